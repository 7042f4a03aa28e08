"""The daily report: a JobQueue job at REPORT_TIME UTC that posts the previous day's trading,
stream health and the equity chart, whether or not the stream is running."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import matplotlib.image as mpimg

from bot.chart_commands import REPORT_JOB
from tests.test_bot_e2e import GROUP, World, source  # noqa: F401  (fixture)
from trading.charts.data import day_summary, ledger_of, utc_day


def report_job(w: World):
    jobs = w.bot.app.job_queue.get_jobs_by_name(REPORT_JOB)
    assert len(jobs) == 1
    return jobs[0]


def test_report_fires_at_report_time_with_the_equity_chart(source, tmp_path):  # noqa: F811
    w = World(source, tmp_path, seconds_per_candle=0.01, CONFIRM_ORDERS="off", REPORT_TIME="06:30")
    try:
        job = report_job(w)
        # The trigger: every day at 06:30 UTC, from any moment.
        at = job.trigger.get_next_fire_time(None, datetime(2025, 3, 1, 6, 31, tzinfo=UTC))
        assert at == datetime(2025, 3, 2, 6, 30, tzinfo=UTC)
        assert (job.next_t.hour, job.next_t.minute) == (6, 30)

        w.reply("/set fast=2 slow=3", "Parameters changed")
        w.reply("/start", "Starting")
        assert w.engine.wait_stream(lambda s: len(w.engine.fills()) >= 4, timeout=30)
        w.engine.stop()  # the report does not need the stream

        # Advance the job's clock: it is due now.
        mark = w.api.mark()
        job.job.modify(next_run_time=datetime.now(UTC))
        call = w.api.wait_for(lambda c: c.method == "sendPhoto" and c.ok, timeout=10, start=mark)
        assert call is not None, [c.method for c in w.api.calls[mark:]]
        msg = next(m for m in w.api.sent(GROUP) if m["message_id"] == call.result["message_id"])
        yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
        caption = msg["caption"]
        assert caption.startswith(f"Daily report · {yesterday:%a %d %b %Y} (UTC) · paper")
        for part in ("Realized", "fees", "Trades closed", "Balance", "equity", "Stream connected", "reconnects 0"):
            assert part in caption
        image = mpimg.imread(io.BytesIO(msg["photo_bytes"]), format="png")
        assert image.shape[1] == 1280
        # Rescheduled for the next 06:30 after firing.
        assert job.next_t > datetime.now(UTC) and (job.next_t.hour, job.next_t.minute) == (6, 30)

        # The numbers for the day the replayed fills are on (the replay runs in 2024).
        fills = w.engine.fills()
        day = utc_day(fills[0].time)
        report = w.engine.daily_report(day)
        expected = day_summary(ledger_of(w.settings.paper_balance, fills, w.engine.funding_payments()), day)
        assert report.summary == expected and expected.fills >= 1
        assert report.equity is not None and report.equity.trades == w.engine.snapshot().trades
    finally:
        w.close()


def test_report_before_any_fill_is_text_and_off_means_no_job(source, tmp_path):  # noqa: F811
    w = World(source, tmp_path)
    try:
        mark = w.api.mark()
        report_job(w).job.modify(next_run_time=datetime.now(UTC))
        msg = w.api.wait_for_text(GROUP, "Daily report", start=mark)
        assert msg is not None and "No fills yet" in msg["text"]
        assert "Stream connected 0h00m (0.0% of the day)" in msg["text"]
    finally:
        w.close()
    w = World(source, tmp_path, DAILY_REPORT="off")
    try:
        assert w.bot.app.job_queue.get_jobs_by_name(REPORT_JOB) == ()
    finally:
        w.close()
