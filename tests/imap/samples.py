"""Sample messages for the IMAP library tests and the comparison with real Dovecot.

Every message is written with LF line ends here and turned into CRLF by ``crlf()``; the
``bare_lf`` sample is kept with LF ends on purpose.
"""

from __future__ import annotations


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


PLAIN = crlf("""\
Return-Path: <alice@example.org>
Date: Mon, 01 Jan 2024 10:00:00 +0100
From: Alice Example <alice@example.org>
To: bob@example.com
Subject: Lunch tomorrow?
Message-ID: <1234@example.org>

Hi Bob,

lunch at noon?
-- Alice
""")

ALTERNATIVE = crlf("""\
From: "Carol, the Admin" <carol@example.net>
To: Dave <dave@example.com>, eve@example.com
Cc: undisclosed-recipients:;
Subject: =?UTF-8?B?R3LDvMOfZQ==?= from the lab
Date: Tue, 2 Jan 2024 08:30:00 -0500
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt-1"
In-Reply-To: <1234@example.org>

This is a multi-part message in MIME format.
--alt-1
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Gr=C3=BC=C3=9Fe
--alt-1
Content-Type: text/html; charset="UTF-8"

<p>Gr&uuml;&szlig;e</p>
--alt-1--
""")

MIXED = crlf("""\
From: frank@example.org (Frank Admin)
To: Team: grace@example.com, heidi@example.com;
Subject: Report
 with a folded subject line
Date: Wed, 3 Jan 2024 12:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed;
 boundary="==mixed=="
Content-Language: en

--==mixed==
Content-Type: text/plain

See the attachment.

--==mixed==
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64
Content-ID: <part2@example.org>
Content-Description: The report
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K
ZW5kc3RyZWFtCmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK
--==mixed==
Content-Type: text/x-log; charset=iso-8859-1
Content-Disposition: inline
Content-Language: de, en-GB
Content-Location: http://example.org/log.txt

line one
line two
--==mixed==--
""")

RFC822 = crlf("""\
From: ivan@example.com
To: judy@example.com
Subject: Fwd: Lunch tomorrow?
Date: Thu, 4 Jan 2024 09:15:00 +0200
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain; charset=us-ascii

Forwarded below.
--outer
Content-Type: message/rfc822

Date: Mon, 01 Jan 2024 10:00:00 +0100
From: Alice Example <alice@example.org>
To: bob@example.com
Subject: Lunch tomorrow?
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain

lunch at noon?
--inner
Content-Type: text/html

<p>lunch at noon?</p>
--inner--

--outer--
""")

ENCODED = crlf("""\
From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>
Sender: "Mallory \\"the\\" Mailer" <mallory@example.com>
Reply-To: <replies@example.com>
To: =?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>
Bcc: <@relay.example:secret@example.com>
Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=
 =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=
Date: Fri, 5 Jan 2024 23:59:59 -0800
Message-ID: <encoded@example.com>
Content-Type: TEXT/PLAIN; CHARSET=UTF-8
Content-Transfer-Encoding: 8bit

Voil\u00e0.
""")

NO_BODY = crlf("""\
From: nobody@example.com
Subject: headers only
""")

ODD_HEADERS = crlf("""\
From: broken address without at
To: , ,  user@, @domain.example
Subject:\tTabs\tand  spaces   "quoted" \\slash\\
Date: Sat, 6 Jan 2024 00:00:00 +0000
Message-ID:
 <folded@example.com>

body
""")

DIGEST = crlf("""\
From: list@example.com
Subject: Digest
MIME-Version: 1.0
Content-Type: multipart/digest; boundary=d

--d

From: a@example.com
Subject: one

first
--d

From: b@example.com
Subject: two

second
--d--
""")

BARE_LF = (b"From: lf@example.com\nSubject: bare LF\nMIME-Version: 1.0\n"
           b"Content-Type: text/plain; charset=us-ascii; format=flowed\n\nline 1\nline 2\n")

SAMPLES: dict[str, bytes] = {
    "plain": PLAIN,
    "alternative": ALTERNATIVE,
    "mixed": MIXED,
    "rfc822": RFC822,
    "encoded": ENCODED,
    "no_body": NO_BODY,
    "odd_headers": ODD_HEADERS,
    "digest": DIGEST,
    "bare_lf": BARE_LF,
}

# Items fetched from every sample in the comparison with Dovecot.
FETCH_ITEMS = [
    "ENVELOPE", "BODY", "BODYSTRUCTURE", "RFC822.SIZE",
    "BODY.PEEK[]", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]", "BODY.PEEK[1]", "BODY.PEEK[2]",
    "BODY.PEEK[1.MIME]", "BODY.PEEK[2.MIME]", "BODY.PEEK[3]", "BODY.PEEK[2.HEADER]",
    "BODY.PEEK[2.TEXT]", "BODY.PEEK[2.1]", "BODY.PEEK[2.2]", "BODY.PEEK[1.1]",
    "BODY.PEEK[HEADER.FIELDS (From Subject)]", "BODY.PEEK[HEADER.FIELDS.NOT (Subject Date)]",
    "BODY.PEEK[2.HEADER.FIELDS (SUBJECT)]", "BODY.PEEK[]<5.20>", "BODY.PEEK[TEXT]<3>",
    "BODY.PEEK[4]", "BODY.PEEK[0]",
]
