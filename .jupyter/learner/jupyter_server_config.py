"""Jupyter server settings for a learner (`make start`): the course's, without the
instructor's tools.

The Makefile points JUPYTER_CONFIG_DIR here for `make start`. As postBuild does on Binder,
labconfig/page_config.json disables and locks nbgrader's formgrader, create-assignment
and course-list plugins, and jupyter_server_config.json switches off the formgrader and
course-list server extensions (JSON, where `jupyter server extension list` reads them);
the learner's assignment list and Validate button stay. The rest is the course's settings
in the folder above, which `make instructor` reads with every nbgrader tool on.
"""

import os

c = get_config()  # noqa: F821 (traitlets provides get_config to config files)

course = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
load_subconfig(os.path.join(course, "jupyter_server_config.py"))  # noqa: F821 (traitlets)
