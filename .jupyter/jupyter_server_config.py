"""Jupyter server settings for the course, as a learner runs it (`make start`).

Read because the Makefile sets JUPYTER_CONFIG_DIR to this folder, so a learner's own
~/.jupyter is left alone. The lab needs no internet: JupyterLab neither fetches its
news feed nor checks for updates, and so shows no news pop-up on the start page.

As on Binder, the instructor's tools are off for a learner: labconfig/page_config.json
disables and locks nbgrader's formgrader, create-assignment and course-list plugins, and
jupyter_server_config.json switches off the formgrader and course-list server extensions
(JSON, where `jupyter server extension list` reads them). `make instructor` reads
instructor/ instead, which loads this file and leaves those tools on.
"""

import os

c = get_config()  # noqa: F821 (traitlets provides get_config to config files)

here = os.path.dirname(os.path.abspath(__file__))

# Default values for JupyterLab's plugin settings live in lab/settings/overrides.json.
c.LabApp.app_settings_dir = os.path.join(here, "lab", "settings")
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
