"""``tertulia send``: every input line accounted for -- stored once, refused with its line
number, or left for a resumed run that will not store it twice.

Theory of operation. Line ``N`` of the input (every line counts, blank ones included, so the
numbering is the same on every run over the same input) becomes an outbox message with the
``msg_id`` ``PREFIX:N``. The server keeps each ``(sender, msg_id)`` once, so sending a line again
under the same id -- after a reconnect, or in a later run resuming this one -- stores nothing
new: it is acknowledged as a duplicate. ``PREFIX`` is random per run unless ``--id-prefix`` or
``--resume-file`` fixes it; a duplicate acknowledgement under a prefix the user chose is
checked against the stored message, because reusing a prefix for *different* input would
otherwise silently take new lines for old ones.

The job counts ``done``: the number of leading lines that are finished (acknowledged, refused
or skipped). That is what a resumed run skips (``--skip N`` by hand, or the resume file), and
the resume file stores it with a digest of those lines so a changed input is refused.

Reading overlaps sending (a pipe may be slow) but stays at most ``READ_AHEAD`` lines ahead of
``done``; the client library paces the sends by the server's announced message rate. Ctrl+C
stops reading, gives the messages already on the wire a moment to be acknowledged, then says
how far it got and how to resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from tertulia.cli.common import CliError
from tertulia.cli.explain import explain
from tertulia.cli.linereader import LineReader, RawLine
from tertulia.cli.progress import Progress
from tertulia.cli.resume import ResumeFile, ResumeState
from tertulia.cli.textio import decode_line
from tertulia.client import (
    Client,
    ClientError,
    ClientOffline,
    EntryState,
    MessageKind,
    PendingMessage,
)

__all__ = ["SendJob", "SendOptions"]

#: input lines read ahead of the last finished one (bounds the outbox and memory)
READ_AHEAD = 256
#: seconds given after Ctrl+C to the messages already sent, for their acknowledgements
GRACE = 3.0
#: seconds between resume-file writes and progress updates
TICK = 0.5
#: exit status after Ctrl+C (128 + SIGINT), as shells report it
EXIT_INTERRUPTED = 130


@dataclass(frozen=True, slots=True)
class SendOptions:
    room: str
    kind: MessageKind
    #: msg_id of line N is f"{prefix}:{N}"
    prefix: str
    #: whether the user chose the prefix (then duplicate acks are checked against history)
    chosen_prefix: bool
    encoding: str = "utf-8"
    errors: str = "skip"
    #: lines already sent by an earlier run (``--skip``)
    skip: int = 0
    resume: ResumeFile | None = None
    resume_state: ResumeState | None = None


class _Line:
    __slots__ = ("digest", "entry", "finished", "number", "verifying")

    def __init__(self, number: int, digest: bytes) -> None:
        self.number = number
        self.digest = digest
        self.entry: PendingMessage | None = None
        self.finished = False
        self.verifying = False


class SendJob:
    """One ``send`` run; :meth:`run_text` or :meth:`run_lines`, after the client started."""

    def __init__(self, client: Client, opts: SendOptions, progress: Progress) -> None:
        self.client = client
        self.opts = opts
        self.progress = progress
        self.read = 0
        self.done = 0
        self.acked = 0
        self.duplicates = 0
        self.failed: list[int] = []
        self._lines: dict[int, _Line] = {}
        self._by_id: dict[str, _Line] = {}
        self._digest = hashlib.sha256()
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()
        self.stop_reason: BaseException | None = None
        self.interrupted = False
        self._verifiers: set[asyncio.Task[None]] = set()
        self._saved_done = -1
        self._max_text = 4000  # the server's, once connected (run_lines)
        client.outbox.on_change = self._on_change

    # ------------------------------------------------------------------ control

    def interrupt(self) -> None:
        """Ctrl+C: stop reading and sending, report, exit 130."""
        self.interrupted = True
        self._stop.set()

    def gave_up(self, error: BaseException) -> None:
        """The client gave up (an account disabled mid-run...): stop, report, exit 1."""
        self.stop_reason = error
        self._stop.set()

    @property
    def skip_to(self) -> int:
        state = self.opts.resume_state
        return max(self.opts.skip, state.done if state is not None else 0)

    # ------------------------------------------------------------------ one TEXT

    async def run_text(self, text: str) -> int:
        line = self._line(1, b"")
        await self._queue(line, text)
        if not await self._until_stopped(self._settle()):
            return await self._stopped()
        return 1 if self.failed else 0

    # ------------------------------------------------------------------ stdin lines

    async def run_lines(self, fd: int) -> int:
        limits = self.client.limits
        max_text = limits.max_text if limits is not None else 4000
        reader = LineReader(fd, 4 * max_text + 2, ahead=READ_AHEAD)
        self._max_text = max_text
        self._save()  # the prefix is on disk before the first message leaves
        reader.start()
        ticker = asyncio.ensure_future(self._tick())
        try:
            if not await self._until_stopped(self._consume(reader)):
                return await self._stopped()
            if not await self._until_stopped(self._settle()):
                return await self._stopped()
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self.progress.clear()
        if self.opts.resume is not None:
            self.opts.resume.remove()  # the whole input is finished
        if self.failed:
            self.progress.note(
                f"tertulia: {len(self.failed)} of {self.read - self.skip_to} lines not sent "
                f"({_ranges(self.failed)})"
            )
            return 1
        return 0

    async def _consume(self, reader: LineReader) -> None:
        state = self.opts.resume_state
        while (item := await reader.next()) is not None:
            n = self.read = self.read + 1
            if n <= self.skip_to:
                self._digest.update(item.digest)
                self.done = n
                if state is not None and n == state.done:
                    self._check_digest(state)
                continue
            while n - self.done > READ_AHEAD:
                self._changed.clear()
                await self._changed.wait()
            await self._take(item, n)
        if state is not None and self.read < state.done:
            raise CliError(
                f"the input has only {self.read} lines, but the resume file "
                f"{self.opts.resume.path if self.opts.resume else ''} says {state.done} were "
                "sent: it is not the input of the interrupted run (remove the file to send "
                "everything again)"
            )
        if self.read < self.opts.skip:
            raise CliError(f"--skip {self.opts.skip}: the input has only {self.read} lines")

    def _check_digest(self, state: ResumeState) -> None:
        if self._digest.hexdigest() != state.digest:
            path = self.opts.resume.path if self.opts.resume else ""
            raise CliError(
                f"the first {state.done} lines of the input differ from those the interrupted "
                f"run sent (per {path}): refusing to resume; remove that file to send "
                "everything again"
            )

    async def _take(self, item: RawLine, n: int) -> None:
        line = self._line(n, item.digest)
        if item.raw is None:
            body = item.size - 1 if item.size else 0
            self._fail(
                line,
                f"the message is too long ({body} bytes; at most {self._max_text} "
                "characters) [text_too_long]",
            )
            return
        decoded = decode_line(item.raw, n, self.opts.encoding, self.opts.errors)
        if decoded.text is None:
            self._fail(line, f"{decoded.error}; use --encoding, or --errors replace to send it")
            return
        if not decoded.text.strip():
            self._finish(line)  # blank lines are skipped
            return
        await self._queue(line, decoded.text)

    # ------------------------------------------------------------------ bookkeeping

    def _line(self, n: int, digest: bytes) -> _Line:
        line = _Line(n, digest)
        self._lines[n] = line
        return line

    async def _queue(self, line: _Line, text: str) -> None:
        msg_id = f"{self.opts.prefix}:{line.number}"
        try:
            entry = await self.client.send(self.opts.room, text, self.opts.kind, msg_id=msg_id)
        except ValueError as exc:
            self._fail(line, str(exc))
            return
        line.entry = entry
        self._by_id[msg_id] = line
        self._on_change(entry)  # it may be refused already (too long)

    def _on_change(self, entry: PendingMessage) -> None:
        line = self._by_id.get(entry.msg_id)
        if line is None or line.finished or line.verifying or line.entry is not entry:
            return
        if entry.state is EntryState.SENT:
            assert entry.sent is not None
            if entry.sent.duplicate and self.opts.chosen_prefix:
                line.verifying = True
                task = asyncio.ensure_future(self._verify(line, entry))
                self._verifiers.add(task)
                task.add_done_callback(self._verifiers.discard)
                return
            self.acked += 1
            self.duplicates += entry.sent.duplicate
            self._finish(line)
        elif entry.state is EntryState.FAILED:
            assert entry.error is not None
            self._fail(line, explain(entry.error))

    async def _verify(self, line: _Line, entry: PendingMessage) -> None:
        """A duplicate ack under a chosen prefix: is the stored message this very line?"""
        assert entry.sent is not None
        seq = entry.sent.seq
        try:
            page = await self.client.history(entry.room, after=seq - 1, limit=1)
        except ClientError as exc:
            self.progress.note(
                f"tertulia: line {line.number}: acknowledged as already stored (seq {seq}), "
                f"but it could not be checked: {explain(exc)}"
            )
            stored = None
        else:
            stored = next((msg for msg in page.messages if msg.seq == seq), None)
            same = stored is not None and (stored.text, stored.kind, stored.sender) == (
                entry.text,
                entry.kind,
                self.client.user,
            )
            if not same:
                line.verifying = False
                self._fail(
                    line,
                    f"its id {entry.msg_id} was already used for a different message "
                    f"(seq {seq}), so the server took it for that one and stored nothing: use "
                    "another --id-prefix for new input",
                )
                return
        line.verifying = False
        self.acked += 1
        self.duplicates += 1
        self._finish(line)

    def _fail(self, line: _Line, why: str) -> None:
        where = "message" if self.read == 0 else f"line {line.number}"
        self.progress.note(f"tertulia: {where} not sent: {why}")
        self.failed.append(line.number)
        self._finish(line)

    def _finish(self, line: _Line) -> None:
        line.finished = True
        while (nxt := self._lines.get(self.done + 1)) is not None and nxt.finished:
            del self._lines[nxt.number]
            if nxt.entry is not None:
                self._by_id.pop(nxt.entry.msg_id, None)
            self._digest.update(nxt.digest)
            self.done += 1
        self._changed.set()

    async def _settle(self) -> None:
        """Wait until every queued line is finished (acknowledged and checked, or refused)."""
        await self.client.flush()
        while self._verifiers:
            await asyncio.gather(*self._verifiers, return_exceptions=True)

    async def _until_stopped(self, work: Coroutine[Any, Any, None]) -> bool:
        """Run ``work``; False if Ctrl+C or a give-up came first (``work`` is cancelled)."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task.done():
            try:
                task.result()  # re-raise what failed (a changed input, an unreadable stdin)
            except ClientOffline as exc:  # the client gave up while we waited for acks
                if self.stop_reason is None and not self.interrupted:
                    self.stop_reason = exc.error or exc
                return False
            return not self._stop.is_set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return False

    # ------------------------------------------------------------------ stopping early

    async def _stopped(self) -> int:
        """After Ctrl+C or a give-up: let the sends in flight be acknowledged, then report."""
        if self.interrupted:
            await self.wait_inflight()
        self.progress.clear()
        self._save()
        if self.stop_reason is not None:
            self.progress.note(f"tertulia: {explain(self.stop_reason)}")
        what = "interrupted" if self.interrupted else "stopped"
        refused = f", {len(self.failed)} refused" if self.failed else ""
        total = self.read - self.skip_to if self.read else 1
        self.progress.note(
            f"tertulia: {what}: {self.acked} of {total} lines read were acknowledged"
            f"{refused}; every line up to line {self.done} is finished, later ones may not "
            "be stored yet"
        )
        self.progress.note(
            f"tertulia: to send the rest without storing anything twice, {self.hint}"
        )
        return EXIT_INTERRUPTED if self.interrupted else 1

    async def wait_inflight(self) -> None:
        """Up to ``GRACE`` seconds for the acks of messages already sent (after Ctrl+C)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GRACE
        while any(e.state is EntryState.SENDING for e in self.client.outbox):
            remaining = deadline - loop.time()
            if remaining <= 0 or not self.client.connected:
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, 0.1)):
                    await self._changed.wait()

    @property
    def hint(self) -> str:
        if self.opts.resume is not None:
            return (
                "run the same command again on the same input: the resume file "
                f"{self.opts.resume.path} says where to start"
            )
        skip = f" --skip {self.done}" if self.done else ""
        return (
            "run the same command again on the same input with "
            f"--id-prefix {self.opts.prefix}{skip}"
        )

    # ------------------------------------------------------------------ periodic

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self._save()
            self._show()

    def _show(self) -> None:
        queued = self.client.outbox.unfinished
        text = f"tertulia: {self.acked} acknowledged, {queued} waiting"
        if self.failed:
            text += f", {len(self.failed)} not sent"
        pacer = self.client.pacer
        if queued and pacer.limited:
            text += f" (paced at {pacer.rate:.3g}/s, the server's limit)"
        self.progress.update(text, force=True)

    def _save(self) -> None:
        resume = self.opts.resume
        if resume is None or self.done == self._saved_done:
            return
        if self.done < self.skip_to:
            return  # still checking the lines an earlier run finished: the file stays as is
        resume.save(
            ResumeState(
                prefix=self.opts.prefix,
                room=self.opts.room,
                kind=self.opts.kind,
                done=self.done,
                digest=self._digest.hexdigest(),
            )
        )
        self._saved_done = self.done


def _ranges(numbers: list[int], most: int = 10) -> str:
    """``"lines 2, 5-7"``: sorted numbers folded into ranges, the first ``most`` of them."""
    nums = sorted(numbers)
    parts: list[str] = []
    start = prev = nums[0]
    for n in [*nums[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    shown = ", ".join(parts[:most]) + (", ..." if len(parts) > most else "")
    return ("line " if len(nums) == 1 else "lines ") + shown
