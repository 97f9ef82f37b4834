"""The client SDK (sdk/todo_client) against a real `todo dev` process: tokens, errors,
retries, versions, pages and the change feed, as an app using it would meet them."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from todo_client import (
    AsyncClient,
    Change,
    Client,
    Conflict,
    Credentials,
    LiveChanges,
    NotFound,
    RateLimited,
    RefreshTokenReused,
    Retry,
    StaleVersion,
    Unauthenticated,
    ValidationError,
)

from tests.conftest import JWT_SECRET, PASSWORD, scratch_database
from tests.dev_process import DevProcess
from tests.tcp_proxy import FlakyProxy

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
async def dev(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """`todo dev` on a free port over a database of its own; its URL."""
    async with scratch_database(server_url, "todo_sdk") as database_url:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JWT_SECRET")}
        env |= {"DATABASE_URL": database_url, "JWT_SECRET": JWT_SECRET}
        # A heartbeat every 0.3 s, so a live client that did not answer it would be
        # disconnected within a test.
        env |= {"WS_HEARTBEAT_SECONDS": "0.3", "WS_HEARTBEAT_TIMEOUT_SECONDS": "1"}
        env["DATA_DIR"] = str(tmp_path_factory.mktemp("sdk-dev"))
        process = DevProcess(env, ROOT)
        try:
            await asyncio.to_thread(process.wait_ready)
            yield process.url
        finally:
            await asyncio.to_thread(process.interrupt)


def new_email() -> str:
    return f"sdk-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture
def client(dev: str) -> Iterator[Client]:
    """A client signed in to a new account."""
    with Client(dev) as client:
        client.register(new_email(), PASSWORD)
        yield client


def test_the_sdk_imports_without_any_server_module() -> None:
    code = (
        "import sys, todo_client, todo_client.client, todo_client.models\n"
        "print(sorted({'asyncpg', 'functions_framework', 'todo', 'pydantic', 'starlette'}"
        " & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert loaded.stdout.strip() == "[]"


def test_refresh_rotates_the_pair_and_saves_it_through_the_hook(dev: str) -> None:
    saved: list[Credentials | None] = []
    with Client(dev, on_credentials=saved.append) as client:
        client.register(new_email(), PASSWORD)
        first = client.session.credentials
        client.refresh()
        assert saved == [first, client.session.credentials]
        assert first is not None
        assert saved[-1] is not None
        # Issued in the same second, the access token may be the same JWT; the refresh
        # token is new each time.
        assert saved[-1].refresh_token != first.refresh_token
        client.logout()
        assert saved[-1] is None


def test_a_reused_refresh_token_revokes_the_session_as_unauthenticated(client: Client) -> None:
    stolen = client.session.credentials
    assert stolen is not None
    client.refresh()
    with Client(str(client.http.base_url), credentials=stolen) as thief:
        with pytest.raises(RefreshTokenReused) as reused:
            thief.refresh()
        assert reused.value.status == 401
        assert thief.session.credentials is None
    # The owner's newest refresh token is revoked with its session.
    with pytest.raises(Unauthenticated):
        client.refresh()


def test_a_token_about_to_expire_is_refreshed_before_the_request(dev: str) -> None:
    # An hour's token within two hours of expiring: every request refreshes first.
    with Client(dev, refresh_margin=7200) as client:
        client.register(new_email(), PASSWORD)
        before = client.session.credentials
        assert before is not None
        assert client.me().email.startswith("sdk-")
        assert client.session.credentials is not None
        assert client.session.credentials.refresh_token != before.refresh_token


def test_a_401_refreshes_once_and_repeats_the_request(client: Client, dev: str) -> None:
    credentials = client.session.credentials
    assert credentials is not None
    assert credentials.refresh_token is not None
    refused = Credentials("not-a-token", credentials.refresh_token)
    with Client(dev, credentials=refused) as resumed:
        assert resumed.me().email.startswith("sdk-")
        assert resumed.session.credentials is not None
        assert resumed.session.credentials.access_token != "not-a-token"


def test_a_401_without_a_refresh_token_raises_unauthenticated(dev: str) -> None:
    with Client(dev, credentials=Credentials("not-a-token")) as client:
        with pytest.raises(Unauthenticated) as refused:
            client.me()
        assert refused.value.type == "/problems/unauthenticated"


def test_each_problem_type_raises_its_exception(client: Client, dev: str) -> None:
    with pytest.raises(NotFound) as missing:
        client.tasks.get(str(uuid.uuid4()))
    assert (missing.value.status, missing.value.title) == (404, "Not found")

    with pytest.raises(ValidationError) as invalid:
        client.tasks.create(title="ok", priority="urgentest")  # type: ignore[arg-type]
    assert invalid.value.fields == ["priority"]

    email = client.me().email
    with Client(dev) as other:
        with pytest.raises(Conflict):
            other.register(email, PASSWORD)
        for _ in range(5):  # LOGIN_MAX_FAILURES
            with pytest.raises(Unauthenticated):
                other.login(email, "not the password")
        with pytest.raises(RateLimited) as throttled:
            other.login(email, "not the password")
        assert throttled.value.retry_after is not None
        assert throttled.value.retry_after > 0


async def test_a_create_whose_answer_was_lost_is_sent_again_and_creates_one_task(
    client: Client, dev: str
) -> None:
    proxy = FlakyProxy(dev)
    await proxy.start()
    url, credentials = f"http://127.0.0.1:{proxy.port}", client.session.credentials
    try:
        # Without retries the cut is the caller's error: the proxy does lose the answer.
        with Client(url, credentials=credentials, retry=Retry(attempts=1)) as once:
            proxy.cut_next_answer()
            with pytest.raises(httpx.TransportError):
                await asyncio.to_thread(once.tasks.create, title="lost", idempotency_key="k1")
        with Client(url, credentials=credentials) as retrying:
            proxy.cut_next_answer()
            task = await asyncio.to_thread(retrying.tasks.create, title="only once")
    finally:
        await proxy.down()
    titles = sorted(t.title for t in client.tasks.iterate())
    assert titles == ["lost", "only once"]
    assert task.title == "only once"


def test_an_update_with_a_stale_version_raises_with_the_current_one(client: Client) -> None:
    task = client.tasks.create(title="Pay rent")
    moved = client.tasks.update(task, title="Pay the rent")
    assert moved.version == task.version + 1
    with pytest.raises(StaleVersion) as stale:
        client.tasks.update(task, title="Pay rent today")
    assert stale.value.current_version == moved.version
    with pytest.raises(TypeError):
        client.tasks.update(task.id, title="no version")
    assert client.tasks.update(task.id, version=None, title="forced").version == moved.version + 1


def test_iterate_walks_every_page_with_the_filters(client: Client) -> None:
    for n in range(7):
        client.tasks.create(title=f"home {n}", tags=["home"])
    client.tasks.create(title="work", tags=["work"])
    first = client.tasks.list(tag="home", limit=3, sort="title")
    assert len(first.items) == 3
    assert first.next_cursor is not None
    titles = [t.title for t in client.tasks.iterate(tag="home", limit=3, sort="title")]
    assert titles == [f"home {n}" for n in range(7)]


def test_complete_reopen_delete_and_quick_add(client: Client) -> None:
    parsed = client.tasks.parse("Water plants tomorrow 9am #home !high")
    assert (parsed.title, parsed.priority, parsed.tags) == ("Water plants", "high", ["home"])
    task = client.tasks.create("Water plants tomorrow 9am #home !high")
    assert task.due_at is not None
    assert task.due_at.tzinfo is not None
    done = client.tasks.complete(task)
    assert done.status == "completed"
    assert done.completed_at is not None
    again = client.tasks.reopen(done)
    assert again.status == "pending"
    client.tasks.delete(again)
    with pytest.raises(NotFound):
        client.tasks.get(task.id)


def test_search_finds_the_best_match_first(client: Client) -> None:
    client.tasks.create(title="Renew the passport")
    client.tasks.create(title="Water plants", description="and renew the soil")
    found = client.tasks.search("renew")
    assert [t.title for t in found] == ["Renew the passport", "Water plants"]
    assert client.tasks.search("passport", limit=1)[0].title == "Renew the passport"


def test_reminders_and_notifications(client: Client) -> None:
    task = client.tasks.create(title="Call mum", due_at=datetime.now(UTC) + timedelta(days=1))
    reminder = client.reminders.add(task.id, before="PT15M")
    assert reminder.before == "PT15M"
    assert [r.id for r in client.reminders.iterate(task_id=task.id)] == [reminder.id]
    snoozed = client.reminders.snooze(reminder.id, minutes=30)
    assert snoozed.id == reminder.id
    client.reminders.delete(reminder.id)
    assert list(client.reminders.iterate(task_id=task.id)) == []
    assert list(client.notifications.iterate(unread=True)) == []
    assert client.notifications.read_all() == 0


def test_changes_reads_the_feed_in_batches_without_a_gap(client: Client) -> None:
    for n in range(5):
        client.tasks.create(title=f"change {n}")
    changes = list(client.changes(since=0, limit=2))
    assert [c.seq for c in changes] == list(range(1, len(changes) + 1))
    assert [c.type for c in changes].count("task.created") == 5
    assert list(client.changes(since=changes[-1].seq)) == []


def test_backoff_honours_retry_after_within_its_bound() -> None:
    retry = Retry(attempts=3, base=0.5, cap=4.0)
    asked = httpx.Response(503, headers={"retry-after": "2"})
    assert retry.delay(1, asked) == 2.0
    assert retry.delay(1, httpx.Response(503, headers={"retry-after": "60"})) == 4.0
    assert 1.0 <= retry.delay(3, None) <= 2.0
    assert retry.should_retry(1, asked)
    assert retry.should_retry(2, None)
    assert not retry.should_retry(3, asked)
    assert not retry.should_retry(1, httpx.Response(500))


async def test_the_async_client_creates_updates_and_pages(dev: str) -> None:
    async with AsyncClient(dev) as client:
        await client.register(new_email(), PASSWORD)
        task = await client.tasks.create("Buy milk #shop")
        with pytest.raises(StaleVersion):
            await client.tasks.update(task.id, version=task.version + 1, title="Buy oat milk")
        await client.tasks.complete(task)
        await client.tasks.create(title="Buy bread", tags=["shop"])
        titles = [t.title async for t in client.tasks.iterate(tag="shop", limit=1, sort="title")]
        assert titles == ["Buy bread", "Buy milk"]
        assert [c.seq async for c in client.changes(limit=1)][:3] == [1, 2, 3]


@pytest.fixture
async def live_pair(dev: str) -> AsyncIterator[tuple[AsyncClient, AsyncClient]]:
    """Two clients of one account: the second changes what the first watches."""
    email = new_email()
    async with AsyncClient(dev) as watcher, AsyncClient(dev) as other:
        await watcher.register(email, PASSWORD)
        await other.login(email, PASSWORD)
        yield watcher, other


async def watch(live: LiveChanges, seen: list[Change]) -> None:
    async for change in live:
        seen.append(change)


async def until(done: Callable[[], bool], seconds: float = 15) -> None:
    async with asyncio.timeout(seconds):
        # Polled: what is awaited is the watcher's list, filled by another task.
        while not done():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_live_sees_another_clients_change_and_keeps_its_heartbeat(
    live_pair: tuple[AsyncClient, AsyncClient],
) -> None:
    watcher, other = live_pair
    await other.tasks.create(title="before")
    seen: list[Change] = []
    live = watcher.live()
    watching = asyncio.create_task(watch(live, seen))
    try:
        await until(lambda: live.last_seq is not None)
        # Several heartbeats pass; answered, they keep the one socket open.
        await asyncio.sleep(2)
        task = await other.tasks.create(title="from elsewhere")
        await until(lambda: len(seen) == 1)
    finally:
        watching.cancel()
    assert (seen[0].type, seen[0].data and seen[0].data["task"]["id"]) == ("task.created", task.id)
    assert live.connections == 1


async def test_live_resumes_after_a_dropped_socket_with_no_gap_and_no_repeat(
    live_pair: tuple[AsyncClient, AsyncClient], dev: str
) -> None:
    watcher, other = live_pair
    proxy = FlakyProxy(dev)
    await proxy.start()
    seen: list[Change] = []
    async with AsyncClient(
        f"http://127.0.0.1:{proxy.port}",
        credentials=watcher.session.credentials,
        retry=Retry(base=0.05, cap=0.2),
    ) as through_proxy:
        live = through_proxy.live(since=0)
        watching = asyncio.create_task(watch(live, seen))
        try:
            for n in range(2):
                await other.tasks.create(title=f"live {n}")
            await until(lambda: len(seen) == 2)
            await proxy.down()
            for n in range(2, 5):
                await other.tasks.create(title=f"missed {n}")
            await asyncio.sleep(0.3)  # reconnecting, and refused
            await proxy.up()
            await other.tasks.create(title="live 5")
            await until(lambda: len(seen) == 6)
            await asyncio.sleep(0.3)  # a repeat would arrive now
        finally:
            watching.cancel()
            await proxy.down()
    assert [c.seq for c in seen] == list(range(1, 7))
    assert [c.type for c in seen] == ["task.created"] * 6
    assert live.connections >= 2


def test_the_guides_examples_run_in_order(
    dev: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/sdk.md's Python blocks, run one after the other as a reader would."""
    guide = ROOT / "docs" / "sdk.md"
    examples = re.findall(r"```python\n(.*?)```", guide.read_text(), flags=re.DOTALL)
    assert len(examples) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for example in examples:
        code = example.replace("http://127.0.0.1:8080", dev).replace("you@example.com", new_email())
        exec(compile(code, str(guide), "exec"), namespace)
    assert (tmp_path / "credentials.json").exists()
    assert isinstance(namespace["last_seq"], int)
    assert namespace["last_seq"] >= 4
