"""The API document as other tools read it.

Validates the OpenAPI document with openapi-spec-validator, generates a Python client from it with
openapi-python-client, then uses that client against a running exchange: it logs in, reads the caller, searches,
and is told in a problem document which parameter is wrong.

    python check.py --spec openapi.json --url http://127.0.0.1:PORT --user root --password-file FILE

Exits 0 and prints "openapi client: all checks passed" when every check holds.
"""

import argparse
import importlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile

from openapi_spec_validator import validate


def check(condition, message):
    if not condition:
        print(f"openapi client: FAILED: {message}", file=sys.stderr)
        sys.exit(1)


def operation(package, name):
    """The generated module of the operation `name`, wherever its tag put it."""
    root = pathlib.Path(importlib.import_module(package).__file__).parent / "api"
    found = [p for p in root.glob(f"*/{name}.py")]
    check(len(found) == 1, f"one generated module for operation {name}, found {found}")
    tag = found[0].parent.name
    return importlib.import_module(f"{package}.api.{tag}.{name}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True)
    args = parser.parse_args()

    spec_path = pathlib.Path(args.spec)
    validate(json.loads(spec_path.read_text(encoding="utf-8")))
    print("openapi client: the document is valid OpenAPI")

    out = pathlib.Path(tempfile.mkdtemp(prefix="ttx-client-"))
    config = out / "config.json"
    config.write_text(json.dumps({"package_name_override": "ttx_client", "project_name_override": "ttx-client"}))
    generated = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec_path),
         "--output-path", str(out / "client"), "--meta", "none", "--config", str(config), "--fail-on-warning"],
        capture_output=True, text=True,
        # The generator formats its output with ruff, installed beside this interpreter.
        env={**os.environ, "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    check(generated.returncode == 0, f"the client generator failed:\n{generated.stdout}\n{generated.stderr}")
    sys.path.insert(0, str(out))
    importlib.invalidate_caches()
    # `--meta none` writes the package itself into the output path.
    (out / "client").rename(out / "ttx_client")
    from ttx_client.client import AuthenticatedClient, Client

    login = operation("ttx_client", "login")
    me = operation("ttx_client", "me")
    search = operation("ttx_client", "search")
    from ttx_client.models import LoginBody

    password = pathlib.Path(args.password_file).read_text(encoding="utf-8").rstrip("\n")
    anonymous = Client(base_url=args.url, raise_on_unexpected_status=True)
    wrong = login.sync_detailed(client=anonymous, body=LoginBody(user_id=args.user, password="not the password"))
    check(wrong.status_code == 401, f"a wrong password is 401, got {wrong.status_code}")
    answer = login.sync(client=anonymous, body=LoginBody(user_id=args.user, password=password))
    check(answer is not None and answer.token and answer.token_type == "Bearer", f"a token, got {answer!r}")
    print("openapi client: logged in")

    client = AuthenticatedClient(base_url=args.url, token=answer.token, raise_on_unexpected_status=True)
    caller = me.sync(client=client)
    check(caller is not None and caller.user_id == args.user, f"the caller is {args.user}, got {caller!r}")

    found = search.sync(client=client, q="电池")
    check(found is not None and found.total >= len(found.hits) > 0, f"a page of hits with its total, got {found!r}")
    print(f"openapi client: searched, {found.total} hits")
    bad = search.sync_detailed(client=client, sort="cheapest")
    check(bad.status_code == 422, f"an invalid sort is 422, got {bad.status_code}")
    problem = json.loads(bad.content)
    check(problem.get("field") == "sort", f"the problem names the parameter: {problem}")
    print("openapi client: all checks passed")


if __name__ == "__main__":
    main()
