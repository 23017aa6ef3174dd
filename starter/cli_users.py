"""`followthrough users add|list`: the accounts that may sign in to the web inbox."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from followthrough.web.signin import check_account, hash_password
from starter.cli_runtime import fail, open_store, run
from store.accounts import AccountExists

users_app = typer.Typer(help="People who sign in to the web app: add, list.", no_args_is_help=True)


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="coordinator, director, billing, viewer, admin, ...")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an account; the password is asked for (or read from stdin) and kept hashed."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_account(name, role, password)
    except ValueError as err:
        fail(str(err))

    async def work() -> str | None:
        async with open_store(migrated=True) as store:
            try:
                await store.accounts.add(name, hash_password(password), role)
            except AccountExists as err:
                return str(err)
        return None

    refused = run(work)
    if refused is not None:
        fail(refused)
    typer.echo(f"account {name} added (role {role})")


@users_app.command("list")
def users_list() -> None:
    """Every account with its role, and whether it is locked."""

    async def work() -> None:
        async with open_store(migrated=True) as store:
            for account in await store.accounts.list():
                until = account.locked_until
                locked = f"  locked until {until:%Y-%m-%d %H:%M} UTC" if until else ""
                typer.echo(f"{account.name:<24} {account.role}{locked}")

    run(work)
