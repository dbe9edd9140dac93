"""The cluster a lazy rfork's child brings in a fault (vkernel/paging.py Pager._cluster): the
faulting run and its neighbours still to come, contiguous, at most the cluster size, and as
many as there are up to it (a model: the pages one could add at either end)."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from vkernel.paging import Pager


@settings(max_examples=150, deadline=None)
@given(
    st.sets(st.integers(0, 40), max_size=40),
    st.integers(0, 40),
    st.integers(1, 4),
    st.integers(1, 16),
)
def test_a_cluster_is_the_run_and_its_unfetched_neighbours_up_to_the_size(backing, at, n, size):
    run = [vp for vp in range(at, at + n)]
    backing = backing | set(run)  # the run faulted: its pages are all still to come
    team = SimpleNamespace(backing=dict.fromkeys(backing, 3))
    got = Pager._cluster(SimpleNamespace(cluster=size), team, run)
    limit = max(size, len(run))
    assert got == list(range(got[0], got[0] + len(got)))  # contiguous: one read, one train
    assert set(run) <= set(got) <= backing and len(got) <= limit
    if len(got) < limit:  # maximal: neither neighbour is still to come
        assert got[-1] + 1 not in backing and got[0] - 1 not in backing
    # after the run first, then before it
    after = 0
    while at + n + after in backing and after < limit - n:
        after += 1
    assert got[-1] == at + n - 1 + after
