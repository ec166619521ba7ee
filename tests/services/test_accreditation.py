"""A lab's standing, asked about many days and standards in any order, answers as replaying its events would."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.services.accreditation import AccreditationRecord, EventRecord, LabStanding, state_on

START = date(2024, 1, 1)
STANDARDS = ("IEC 61851-23:2023", "GB/T 18487.1-2023", "EN IEC 61851-1:2019")
days = st.integers(0, 400).map(lambda n: START + timedelta(days=n))


@st.composite
def accreditations(draw, number: int) -> AccreditationRecord:
    effective = sorted(draw(st.lists(days, min_size=1, max_size=5)))
    events = tuple(
        EventRecord(action="change", status=draw(st.sampled_from(("valid", "suspended", "withdrawn"))),
                    scope=draw(st.none() | st.lists(st.sampled_from(STANDARDS), unique=True)),
                    effective_on=day, reason="test", acting_org="reg-test", recorded_at=None)
        for day in effective
    )
    valid_from = draw(days)
    return AccreditationRecord(id=number, body_id="CNAS", number=f"L{number}", basis="ISO/IEC 17025",
                               valid_from=valid_from, valid_until=draw(st.none() | days.filter(lambda d: d >= valid_from)),
                               events=events)


@settings(max_examples=150, deadline=None)
@given(records=st.integers(0, 3).flatmap(lambda n: st.tuples(*(accreditations(i) for i in range(n)))),
       questions=st.lists(st.tuples(st.sampled_from(STANDARDS), days), min_size=1, max_size=40))
def test_answers_equal_a_replay_of_the_events_whatever_the_order_of_questions(records, questions):
    standing = LabStanding("lab-test", records)
    for standard, day in questions:
        states = [state_on(a, day) for a in records]
        assert standing.active_on(day) == any(s.active for s in states)
        assert standing.accredited_for(standard, day) == any(s.active and standard in s.scope for s in states)


def test_a_suspension_takes_the_standard_away_from_its_effective_date_only():
    grant = EventRecord("grant", "valid", [STANDARDS[0]], START, "granted", "reg-test", None)
    suspension = EventRecord("suspend", "suspended", None, START + timedelta(days=10), "audit", "reg-test", None)
    standing = LabStanding("lab-test", (AccreditationRecord(1, "CNAS", "L1", "ISO/IEC 17025", START, None,
                                                            (grant, suspension)),))
    assert standing.accredited_for(STANDARDS[0], START + timedelta(days=9))
    assert not standing.accredited_for(STANDARDS[0], START + timedelta(days=10))
    assert not standing.accredited_for(STANDARDS[1], START + timedelta(days=9))
    assert standing.active_on(START + timedelta(days=9)) and not standing.active_on(START + timedelta(days=10))
    assert not standing.active_on(START - timedelta(days=1))
