"""How a sweep's jobs are dealt into chunks for pool workers and array tasks."""

from pathlib import Path

import pytest

from optsweep.engine.chunks import CHUNKS_PER_WORKER, chunk_count, make_chunks
from optsweep.engine.plan import JobPlan


@pytest.mark.parametrize(
    "jobs, workers, size, expected",
    [
        (0, 2, None, 0),
        (1, 2, None, 1),
        (45, 2, None, 2 * CHUNKS_PER_WORKER),
        (4500, 64, None, 64 * CHUNKS_PER_WORKER),
        (45, 2, 10, 5),
        (45, 2, 100, 1),
    ],
)
def test_chunk_count(jobs, workers, size, expected):
    assert chunk_count(jobs, workers, size) == expected


def test_jobs_are_dealt_in_turn_each_with_its_plan_and_number():
    todo = [(i, (f"maxfun={i}",)) for i in (0, 2, 3, 5, 6, 7, 9)]
    plans = {job: JobPlan(job, Path(f"{n}.pkl"), {"n": n}) for n, job in todo}
    chunks = make_chunks(todo, plans, 3)
    assert [[n for n, _ in c.jobs] for c in chunks] == [[0, 5, 9], [2, 6], [3, 7]]
    assert sorted(job for c in chunks for _, job in c.jobs) == sorted(job for _, job in todo)
    for chunk in chunks:
        assert set(chunk.plans) == {job for _, job in chunk.jobs}
    assert len(make_chunks(todo[:2], plans, 3)) == 2, "no empty chunk"
