#!/usr/bin/python3
"""Organize a meeting with Debian's python3-caldav, as a script user would.

Usage: python_scheduling.py URL USER PASSWORD ACTION UID [ATTENDEE...]
ACTION is create (a meeting with the attendees), move (one hour later, the
way a client edits: fetch, change DTSTART/DTEND, save) or delete.
Prints one line per step; exits non-zero with the failing step on error.
"""
import re
import sys
import traceback

import caldav

URL, USER, PASSWORD, ACTION, UID = sys.argv[1:6]
ATTENDEES = sys.argv[6:]


def step(name):
    print("step:", name, flush=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def event(organizer):
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//salon e2e//python-caldav scheduling//EN",
        "BEGIN:VTIMEZONE", "TZID:Europe/Paris",
        "BEGIN:STANDARD", "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
        "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "END:STANDARD",
        "BEGIN:DAYLIGHT", "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
        "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "END:DAYLIGHT",
        "END:VTIMEZONE",
        "BEGIN:VEVENT", "UID:" + UID, "DTSTAMP:20260101T000000Z",
        "DTSTART;TZID=Europe/Paris:20310310T140000", "DTEND;TZID=Europe/Paris:20310310T150000",
        "SUMMARY:Quarterly review", "DESCRIPTION:Numbers first\\, then plans.",
        "ORGANIZER;CN=Organizer:" + organizer,
    ]
    for a in ATTENDEES:
        lines.append("ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT:mailto:" + a)
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(lines) + "\r\n"


def main():
    client = caldav.DAVClient(url=URL, username=USER, password=PASSWORD)
    step("discovery")
    principal = client.principal()
    addresses = [a for a in principal.calendar_user_address_set() if a.lower().startswith("mailto:")]
    check(addresses, "the principal has no mailto: address")
    cal = principal.calendars()[0]

    if ACTION == "create":
        step("save the meeting")
        cal.save_event(event(addresses[0]))
        step("read it back")
        ev = cal.event_by_uid(UID)
        check("X-SALON-MEETING" in ev.data, "salon did not stamp the meeting link:\n" + ev.data)
        check("CONFERENCE" in ev.data, "no CONFERENCE property:\n" + ev.data)
    elif ACTION == "move":
        step("fetch the meeting")
        ev = cal.event_by_uid(UID)
        data = ev.data
        step("move it one hour later")
        data = re.sub(r"DTSTART;TZID=Europe/Paris:20310310T140000", "DTSTART;TZID=Europe/Paris:20310310T150000", data)
        data = re.sub(r"DTEND;TZID=Europe/Paris:20310310T150000", "DTEND;TZID=Europe/Paris:20310310T160000", data)
        check(data != ev.data, "could not find the times to move in:\n" + ev.data)
        ev.data = data
        ev.save()
        step("read it back")
        ev = cal.event_by_uid(UID)
        check("20310310T150000" in ev.data, "the move did not stick:\n" + ev.data)
    elif ACTION == "delete":
        step("delete the meeting")
        cal.event_by_uid(UID).delete()
    else:
        raise SystemExit("unknown action " + ACTION)
    print("all steps passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        sys.exit(1)
