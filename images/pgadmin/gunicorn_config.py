# As in the official image: hide the server software/version in the Server header.
import gunicorn
gunicorn.SERVER_SOFTWARE = 'Python'
