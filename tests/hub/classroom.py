"""A JupyterHub classroom on one machine, for tests: an instructor and students.

JupyterHub runs with its proxy, configurable-http-proxy (from npm), on loopback ports.
Every user is a hub account with a password (SharedPasswordAuthenticator: one for the
students, one for the instructor, who is the hub's admin) and a home folder of their own.
SimpleLocalProcessSpawner starts each user's single-user JupyterLab server as a process
of its own, on a port of its own, without needing root to switch Unix users.
Because those processes share one Unix account, each student's nbgrader settings name
their student id; on a real hub (Kubernetes, where every user is `jovyan`) nbgrader takes
it from JUPYTERHUB_USER instead.

The shared folder `etc-jupyter/` plays the part of a hub's /etc/jupyter: it is on every
server's JUPYTER_CONFIG_PATH and its nbgrader_config.py names the exchange, a temporary
folder. The instructor's home is a copy of the course (its own nbgrader_config.py and
notebooks/), which defers to that shared exchange as it would on a real hub.

The test drives everything over HTTP: the Hub's REST API with a service token, and
through the proxy the users' servers (Jupyter's contents API, nbgrader's formgrader and
assignment-list APIs).
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.browser.lab import ROOT, free_port, wait_http

COURSE_ID = "mailbox-access-lab"
SERVICE = "classroom-test"
HUB_CONFIG = """\
c = get_config()
c.JupyterHub.bind_url = {bind_url!r}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = {db_url!r}
c.JupyterHub.cookie_secret_file = {cookie_secret!r}
c.JupyterHub.pid_file = {pid_file!r}
c.JupyterHub.cleanup_servers = True
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.api_url = {proxy_api!r}
c.ConfigurableHTTPProxy.auth_token = {proxy_token!r}
c.ConfigurableHTTPProxy.pid_file = {proxy_pid_file!r}
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {student_password!r}
c.SharedPasswordAuthenticator.admin_password = {instructor_password!r}
c.Authenticator.admin_users = {admins!r}
c.Authenticator.allowed_users = {students!r}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {home_template!r}
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.args = {spawner_args!r}
c.Spawner.default_url = "/lab"
c.Spawner.environment = {{"JUPYTER_CONFIG_PATH": {etc_jupyter!r}}}
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
c.JupyterHub.services = [{{"name": {service!r}, "api_token": {service_token!r}}}]
c.JupyterHub.load_roles = [{{
    "name": {service!r},
    "services": [{service!r}],
    "scopes": ["admin:users", "admin:servers", "admin:server_state", "access:servers"],
}}]
"""

# A student's server: no instructor tools (as in the course's student edition).
STUDENT_SERVER_CONFIG = {"ServerApp": {"jpserver_extensions": {
    "nbgrader.server_extensions.formgrader": False}}}
STUDENT_PAGE_CONFIG = {"disabledExtensions": {
    "@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:create-assignment": True}}


class HTTPFailure(AssertionError):
    """A request answered with an error status; the body is in the message."""


def request(method: str, url: str, token: str, body: Any = None, timeout: float = 120) -> Any:
    """One HTTP request with a token; the decoded JSON answer (None when empty)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"token {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        raise HTTPFailure(f"{method} {url}: HTTP {error.code}: "
                          f"{error.read().decode(errors='replace')[:2000]}") from None
    return json.loads(raw) if raw.strip() else None


class Classroom:
    """A hub with one instructor and some students, in a temporary folder."""

    def __init__(self, base: Path, instructor: str, students: list[str], proxy: str) -> None:
        self.base = base
        self.instructor = instructor
        self.students = students
        self.proxy_command = proxy
        self.homes = base / "home"
        self.exchange = base / "exchange"
        self.etc_jupyter = base / "etc-jupyter"
        self.log = base / "jupyterhub.log"
        self.url = f"http://127.0.0.1:{free_port()}"
        self.proxy_api = f"http://127.0.0.1:{free_port()}"
        self.service_token = os.urandom(16).hex()
        self.proxy_token = os.urandom(16).hex()
        self.student_password = os.urandom(16).hex()
        self.instructor_password = os.urandom(16).hex()
        self.process: subprocess.Popen[bytes] | None = None

    # --- set-up -------------------------------------------------------------------------

    def prepare(self) -> None:
        """Homes, the shared exchange and settings, and the hub's configuration file."""
        self.exchange.mkdir(parents=True)
        self.exchange.chmod(0o777)  # students drop their submissions here
        self.etc_jupyter.mkdir()
        (self.etc_jupyter / "nbgrader_config.py").write_text(
            "c = get_config()\n"
            f"c.Exchange.root = {str(self.exchange)!r}\n")
        self._prepare_instructor(self.homes / self.instructor)
        for student in self.students:
            self._prepare_student(self.homes / student, student)
        venv_bin = Path(sys.executable).parent
        (self.base / "jupyterhub_config.py").write_text(HUB_CONFIG.format(
            bind_url=self.url + "/", hub_port=free_port(),
            db_url=f"sqlite:///{self.base / 'jupyterhub.sqlite'}",
            cookie_secret=str(self.base / "cookie_secret"),
            pid_file=str(self.base / "jupyterhub.pid"),
            proxy=self.proxy_command, proxy_api=self.proxy_api, proxy_token=self.proxy_token,
            proxy_pid_file=str(self.base / "proxy.pid"),
            student_password=self.student_password,
            instructor_password=self.instructor_password, admins={self.instructor},
            students=set(self.students), home_template=str(self.homes / "{username}"),
            singleuser=str(venv_bin / "jupyterhub-singleuser"),
            spawner_args=["--allow-root"] if os.getuid() == 0 else [],
            etc_jupyter=str(self.etc_jupyter), service=SERVICE,
            service_token=self.service_token))

    def _prepare_instructor(self, home: Path) -> None:
        """The instructor's home is the course: its nbgrader settings and notebooks."""
        home.mkdir(parents=True)
        shutil.copy2(ROOT / "nbgrader_config.py", home / "nbgrader_config.py")
        shutil.copytree(ROOT / "notebooks", home / "notebooks",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))

    def _prepare_student(self, home: Path, student: str) -> None:
        jupyter = home / ".jupyter"
        (jupyter / "labconfig").mkdir(parents=True)
        (jupyter / "jupyter_server_config.json").write_text(json.dumps(STUDENT_SERVER_CONFIG))
        (jupyter / "labconfig" / "page_config.json").write_text(json.dumps(STUDENT_PAGE_CONFIG))
        (home / "nbgrader_config.py").write_text(
            "c = get_config()\n"
            f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
            f"c.CourseDirectory.student_id = {student!r}\n")

    # --- the hub process ----------------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        """Start JupyterHub (it starts the proxy) and wait for its API."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "jupyterhub"), "-f",
                 str(self.base / "jupyterhub_config.py")],
                cwd=self.base, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        # The proxy answers (404) before the Hub has added its route: wait for the Hub.
        wait_http(f"{self.url}/hub/api/", timeout,
                  alive=lambda: self.process.poll() is None, log=self.log)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.hub("GET", "/")
                return
            except HTTPFailure:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.3)

    def stop(self) -> None:
        """Stop the hub; it stops the users' servers and the proxy it started. Any of
        those still running after that is ended by its process id."""
        if self.process is None:
            return
        leftovers = [pid for pid in (self._pid_file("proxy.pid"),) if pid]
        if self.process.poll() is None:
            try:
                leftovers += [pid for pid in self.server_pids().values() if pid]
            except (HTTPFailure, OSError):
                pass  # the Hub cannot say; it is stopped all the same
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for pid in leftovers:
            _end(pid)

    def _pid_file(self, name: str) -> int | None:
        path = self.base / name
        return int(path.read_text().strip()) if path.exists() else None

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    # --- the Hub's REST API -------------------------------------------------------------

    def hub(self, method: str, path: str, body: Any = None) -> Any:
        return request(method, f"{self.url}/hub/api{path}", self.service_token, body)

    def spawn(self, user: str, timeout: float = 90) -> dict[str, Any]:
        """Start a user's server through the Hub API and wait until the Hub calls it ready."""
        self.hub("POST", f"/users/{user}/server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.hub("GET", f"/users/{user}")
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return server
            time.sleep(0.5)
        raise TimeoutError(f"{user}'s server was not ready within {timeout:.0f} s\n"
                           f"{self.log_tail()}")

    def server_pids(self) -> dict[str, int | None]:
        """Each user's server process id, from the spawner's state in the Hub."""
        pids = {}
        for model in self.hub("GET", "/users"):
            server = (model.get("servers") or {}).get("")
            state = (server or {}).get("state") or {}
            pids[model["name"]] = state.get("pid")
        return pids

    def routes(self) -> dict[str, str]:
        """The proxy's routing table: path prefix -> target address."""
        table = request("GET", f"{self.proxy_api}/api/routes", self.proxy_token)
        return {prefix: route["target"] for prefix, route in table.items()}

    def login(self, user: str, password: str) -> int:
        """Log in on the Hub's login form as a person would; the status of the answer
        (302, a redirect to the user's server, when the password is right)."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar),
                                             _NoRedirect())
        opener.open(f"{self.url}/hub/login", timeout=30).read()
        xsrf = next(cookie.value for cookie in jar if cookie.name == "_xsrf")
        form = urllib.parse.urlencode({"username": user, "password": password,
                                       "_xsrf": xsrf}).encode()
        try:
            with opener.open(f"{self.url}/hub/login", data=form, timeout=30) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    # --- the users' servers, through the proxy ------------------------------------------

    def user_api(self, user: str, method: str, path: str, body: Any = None,
                 timeout: float = 180) -> Any:
        """A request to `user`'s single-user server (path after /user/NAME)."""
        return request(method, f"{self.url}/user/{user}{path}", self.service_token, body,
                       timeout=timeout)

    def formgrader(self, method: str, path: str) -> Any:
        """The instructor's formgrader API; an nbgrader step that fails raises here."""
        answer = self.user_api(self.instructor, method, f"/formgrader/api{path}")
        if isinstance(answer, dict) and answer.get("success") is False:
            raise AssertionError(f"formgrader {path} failed:\n{answer.get('error')}\n"
                                 f"{answer.get('log')}")
        return answer

    def assignment_action(self, student: str, action: str, assignment: str) -> Any:
        """nbgrader's assignment list in a student's server: fetch or submit."""
        query = urllib.parse.urlencode({"course_id": COURSE_ID, "assignment_id": assignment})
        answer = self.user_api(student, "POST", f"/assignments/{action}?{query}")
        if isinstance(answer, dict) and answer.get("success") is False:
            raise AssertionError(f"{student}: {action} {assignment} failed:\n"
                                 f"{answer.get('value')}")
        return answer


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _end(pid: int) -> None:
    """End a process the classroom started, by its id, if it is still there."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
