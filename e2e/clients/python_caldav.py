#!/usr/bin/python3
"""Drive a CalDAV server with Debian's python3-caldav, as a script user would.

Usage: python_caldav.py URL USER PASSWORD
Prints one line per step; exits non-zero with the failing step on error.
"""
import datetime
import sys
import traceback

import caldav
from caldav.elements import dav

URL, USER, PASSWORD = sys.argv[1:4]
UTC = datetime.timezone.utc


def step(name):
    print("step:", name, flush=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def ics(body):
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//salon e2e//python-caldav//EN\r\n" + body + "END:VCALENDAR\r\n"


PLAIN = ics(
    "BEGIN:VEVENT\r\nUID:plain-1@e2e\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART:20270105T100000Z\r\nDTEND:20270105T110000Z\r\nSUMMARY:Plain meeting\r\n"
    "X-CUSTOM-PROP;X-PARAM=1:kept as is\r\nEND:VEVENT\r\n")
RECURRING = ics(
    "BEGIN:VEVENT\r\nUID:weekly-1@e2e\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART:20270104T090000Z\r\nDTEND:20270104T093000Z\r\nSUMMARY:Weekly standup\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=10\r\nEXDATE:20270111T090000Z\r\nEND:VEVENT\r\n")
ALLDAY = ics(
    "BEGIN:VEVENT\r\nUID:allday-1@e2e\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART;VALUE=DATE:20270120\r\nDTEND;VALUE=DATE:20270122\r\nSUMMARY:Offsite\r\nEND:VEVENT\r\n")
TODO = ics(
    "BEGIN:VTODO\r\nUID:todo-1@e2e\r\nDTSTAMP:20260101T000000Z\r\n"
    "DUE:20270110T170000Z\r\nSUMMARY:Write the report\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\n")

JAN = (datetime.datetime(2027, 1, 1, tzinfo=UTC), datetime.datetime(2027, 2, 1, tzinfo=UTC))


def main():
    client = caldav.DAVClient(url=URL, username=USER, password=PASSWORD)

    step("discovery")
    principal = client.principal()
    home = principal.calendar_home_set
    check(home is not None, "no calendar-home-set")
    addresses = principal.calendar_user_address_set()
    check(any(a.lower().startswith("mailto:") for a in addresses), "no mailto address: %r" % addresses)
    existing = principal.calendars()
    check(len(existing) >= 1, "a new user has no default calendar")

    step("make calendar")
    cal = principal.make_calendar(name="Work", cal_id="work")
    step("set properties")
    cal.set_properties([dav.DisplayName("Work (renamed)")])
    check(cal.get_display_name() == "Work (renamed)", "displayname not saved: %r" % cal.get_display_name())
    check(any(c.url == cal.url for c in principal.calendars()), "new calendar not listed")

    step("save events and a todo")
    plain = cal.save_event(PLAIN)
    cal.save_event(RECURRING)
    cal.save_event(ALLDAY)
    cal.save_todo(TODO)

    step("round trip keeps unknown properties")
    fetched = cal.event_by_uid("plain-1@e2e")
    check("X-CUSTOM-PROP;X-PARAM=1:kept as is" in fetched.data, "X- property lost:\n" + fetched.data)

    step("search by time range without expand")
    found = cal.date_search(JAN[0], JAN[1], expand=False)
    uids = sorted(str(e.vobject_instance.vevent.uid.value) for e in found)
    check(uids == ["allday-1@e2e", "plain-1@e2e", "weekly-1@e2e"], "January events: %r" % uids)
    narrow = cal.date_search(datetime.datetime(2027, 1, 11, 8, tzinfo=UTC),
                             datetime.datetime(2027, 1, 11, 12, tzinfo=UTC), expand=False)
    check(len(narrow) == 0, "the EXDATE'd instance matched: %r" % [e.data for e in narrow])

    step("search by time range with expand")
    expanded = cal.search(start=JAN[0], end=JAN[1], event=True, expand=True)
    weekly = [e for e in expanded if "weekly-1@e2e" in e.data]
    # Jan 4, 18, 25 (Jan 11 excluded): three instances in January.
    check(len(weekly) == 3, "expanded weekly instances in January: %d" % len(weekly))

    step("todos")
    todos = cal.todos()
    check(len(todos) == 1 and "todo-1@e2e" in todos[0].data, "todos: %r" % [t.data for t in todos])

    step("sync: initial token")
    initial = cal.objects_by_sync_token()
    token = initial.sync_token
    check(token, "no sync token")
    check(len(list(initial)) == 4, "initial sync returned %d objects" % len(list(initial)))

    step("update and delete")
    fetched.data = fetched.data.replace("Plain meeting", "Plain meeting (moved)")
    fetched.save()
    allday = cal.event_by_uid("allday-1@e2e")
    allday.delete()
    check(len(cal.date_search(JAN[0], JAN[1], expand=False)) == 2, "delete not visible in search")

    step("sync: only changes come back")
    delta = cal.objects_by_sync_token(sync_token=token, load_objects=True)
    changed = list(delta)
    urls = sorted(str(o.url) for o in changed)
    check(len(changed) == 2, "delta has %d entries: %r" % (len(changed), urls))
    check(any(o.data and "moved" in o.data for o in changed), "the update is not in the delta")
    check(any(o.data is None or o.data == "" for o in changed), "the deletion is not in the delta")
    check(delta.sync_token != token, "token did not move")

    step("free-busy request")
    fb = cal.freebusy_request(JAN[0], JAN[1])
    data = fb.data if hasattr(fb, "data") else str(fb)
    check("VFREEBUSY" in data and "FREEBUSY" in data, "free-busy answer:\n" + data)

    step("delete calendar")
    cal.delete()
    check(all(c.url != cal.url for c in principal.calendars()), "deleted calendar still listed")
    print("python-caldav: all steps passed", flush=True)


try:
    main()
except Exception:
    traceback.print_exc()
    sys.exit(1)
