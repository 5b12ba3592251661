"""Jupyter server settings for the course.

Read because the Makefile sets JUPYTER_CONFIG_DIR to this folder, so a learner's own
~/.jupyter is left alone. The lab needs no internet: JupyterLab neither fetches its
news feed nor checks for updates, and so shows no news pop-up on the start page.
Every nbgrader tool is on here (`make instructor`); `make start` reads learner/, which
loads this file and switches the instructor's tools off.
"""

import os

c = get_config()  # noqa: F821 (traitlets provides get_config to config files)

here = os.path.dirname(os.path.abspath(__file__))

# Default values for JupyterLab's plugin settings live in lab/settings/overrides.json.
c.LabApp.app_settings_dir = os.path.join(here, "lab", "settings")
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
