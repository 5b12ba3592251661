"""Jupyter server settings for the instructor (`make instructor`).

The Makefile points JUPYTER_CONFIG_DIR here instead of at the learner's folder above it, so
neither its labconfig/page_config.json nor its jupyter_server_config.json applies, and
nbgrader's instructor tools (formgrader, create assignment, course list) stay on as the
nbgrader package enables them. The rest is the learner's settings, read from there.
"""

import os

c = get_config()  # noqa: F821 (traitlets provides get_config to config files)

learner = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
load_subconfig(os.path.join(learner, "jupyter_server_config.py"))  # noqa: F821 (traitlets)
