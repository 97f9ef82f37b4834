"""Signing in and out: register, login, logout, whoami. The session is kept in the user's
config directory (todo_cli/config.py)."""

from __future__ import annotations

import argparse
import getpass
import sys

from todo_client import Client, Credentials

from todo_cli import config
from todo_cli.exits import USAGE, Failure
from todo_cli.session import connect, reporting, signed_in


def ask_email(given: str | None) -> str:
    email = given or input("email: ").strip()
    if not email:
        raise Failure("an email is needed", USAGE)
    return email


def ask_password(from_stdin: bool, prompt: str = "password: ") -> str:
    """From standard input's first line with --password-stdin (for scripts), otherwise
    typed at the terminal without echo."""
    password = sys.stdin.readline().rstrip("\n") if from_stdin else getpass.getpass(prompt)
    if not password:
        raise Failure("a password is needed", USAGE)
    return password


def keep_session(server: str, email: str, client: Client) -> None:
    """Save the session the client now holds, with the account's time zone."""
    user = client.me()
    credentials = client.session.credentials
    assert credentials is not None  # the sign-in just stored them
    config.save(config.Saved(server, user.email or email, user.timezone, credentials.as_dict()))


def cmd_register(args: argparse.Namespace) -> int:
    server = config.server_url(args.server)
    email = ask_email(args.email)
    password = ask_password(args.password_stdin, "choose a password (8+ characters): ")
    with reporting(server), connect(server) as client:
        client.register(email, password, timezone=args.timezone)
        keep_session(server, email, client)
    print(f"registered and logged in to {server} as {email} ({args.timezone})")
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    server = config.server_url(args.server)
    email = ask_email(args.email)
    password = ask_password(args.password_stdin)
    with reporting(server), connect(server) as client:
        client.login(email, password)
        keep_session(server, email, client)
    print(f"logged in to {server} as {email}")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    saved = config.load()
    if saved is None:
        print("not logged in")
        return 0
    server = saved.server
    credentials = Credentials.from_dict(saved.credentials)
    try:
        with reporting(server), connect(server, credentials) as client:
            client.logout()
    finally:  # the tokens leave this machine even when the server cannot be told
        config.forget()
    print(f"logged out of {server}")
    return 0


def cmd_whoami(args: argparse.Namespace) -> int:
    with signed_in(args.server) as (session, client):
        user = client.me()
        print(f"{user.email} on {session.server} (time zone {user.timezone})")
    return 0
