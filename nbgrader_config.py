"""nbgrader settings for the Mailbox Access Lab course.

The notebooks/ tree is nbgrader's source directory: each topic folder is an assignment
(notebooks/00-start-here/ is the assignment "00-start-here"). The exchange, through which
assignments are released and collected, lives inside the project so that the course
works without root: nbgrader's default, /usr/local/share/nbgrader/exchange, does not
exist on a fresh machine. JupyterHub deployments set their own shared exchange.
"""

import os

c = get_config()  # noqa: F821 (traitlets provides get_config to config files)

here = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = here
c.CourseDirectory.course_id = "mailbox-access-lab"
c.CourseDirectory.source_directory = "notebooks"

exchange = os.path.join(here, ".nbgrader", "exchange")
if not os.path.isdir(exchange):
    os.makedirs(exchange, exist_ok=True)
    # The permissions nbgrader itself gives an exchange it creates (world-writable, as
    # students drop submissions there); setting them now spares a warning at release.
    os.chmod(exchange, 0o777)
c.Exchange.root = exchange
