"""WAIT's schedule of reads (docs/uws.md, Blocking): soon at first, then twice a second."""

import itertools

from uws.web.waiting import wait_pauses


def test_first_look_after_ten_milliseconds_then_doubling_to_half_a_second():
    assert list(itertools.islice(wait_pauses(), 9)) == [
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.5, 0.5, 0.5,
    ]  # fmt: skip


def test_a_twenty_second_wait_reads_the_job_45_times():
    sums = list(itertools.accumulate(itertools.islice(wait_pauses(), 50)))
    assert sums[43] < 20 <= sums[44]  # the 45th pause reaches 20 s
