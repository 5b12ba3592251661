"""Scripted IMAP sessions (raw client lines) for comparing the lab with real Dovecot.

Each script starts on a fresh Maildir holding ``MAILDIR`` (three new messages and one
already \\Seen), logs in unless it begins with ``@prelogin``, and ends with LOGOUT unless it
ends the connection itself. A line ``C: ...`` is sent as is (``\\r\\n`` inside splits a
literal); the runner waits for the tagged reply of its tag, or a ``+`` continuation, or
``* BYE``.
"""

from __future__ import annotations

from tests.imap.samples import ALTERNATIVE, MIXED, PLAIN, RFC822

# (file contents, seen?) in UID order
MAILDIR = [(PLAIN, False), (ALTERNATIVE, False), (MIXED, False), (RFC822, True)]
MTIME = 1704106800.0  # 2024-01-01 11:00:00 UTC

SMALL = "Subject: appended\\r\\n\\r\\nhello!!\\r\\n"  # 30 octets on the wire

SCRIPTS: dict[str, list[str]] = {
    # --- before login -----------------------------------------------------------------
    "prelogin_capability": ["@prelogin", "a CAPABILITY", "b NOOP", "c LOGOUT"],
    "prelogin_bad_commands": ["@prelogin", "a SELECT INBOX", "b FOO", "c BAR"],
    "prelogin_login_as_tag": ["@prelogin", "LOGIN alice secret", "a LOGOUT"],
    "prelogin_enable_id": ["@prelogin", "a ENABLE CONDSTORE", "b ID NIL", "c LOGOUT"],
    "prelogin_wrong_password": ["@prelogin", "a LOGIN alice wrong", "b LOGOUT"],
    "prelogin_literal_login": ["@prelogin", "a LOGIN {5}", "alice {6}", "secret",
                               "b CAPABILITY", "c LOGOUT"],
    "prelogin_capability_then_login": ["@prelogin", "a CAPABILITY", "b LOGIN alice secret",
                                       "c LOGOUT"],
    "authenticate_plain_ir": ["@prelogin", "a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==",
                              "b LOGOUT"],
    "authenticate_plain_continuation": ["@prelogin", "a AUTHENTICATE PLAIN",
                                        "AGFsaWNlAHNlY3JldA==", "b LOGOUT"],
    "authenticate_cancel": ["@prelogin", "a AUTHENTICATE PLAIN", "*", "b LOGOUT"],
    "authenticate_login_mech": ["@prelogin", "a AUTHENTICATE LOGIN", "YWxpY2U=",
                                "c2VjcmV0", "b LOGOUT"],
    "authenticate_unknown_mech": ["@prelogin", "a AUTHENTICATE FOO", "b LOGOUT"],
    "authenticate_bad_password": ["@prelogin", "a AUTHENTICATE PLAIN AGFsaWNlAHdyb25n",
                                  "b LOGOUT"],
    # --- authenticated state ----------------------------------------------------------
    "noop_check_unselected": ["a NOOP", "b CHECK", "c FETCH 1 FLAGS", "d EXPUNGE"],
    "namespace_id": ["a NAMESPACE", "b ID (\"name\" \"test\")"],
    "list_basic": ["a LIST \"\" *", "b LIST \"\" %", "c LIST \"\" \"\"", "d LIST \"\" inbox"],
    "create_list_delete": ["a CREATE Work", "b CREATE Work.Reports", "c LIST \"\" *",
                           "d LIST Work %", "e LIST \"\" Work.%", "f DELETE Work.Reports",
                           "g LIST \"\" *", "h DELETE nosuch", "i DELETE INBOX"],
    "create_errors": ["a CREATE Work", "b CREATE Work", "c CREATE foo/bar", "d CREATE INBOX"],
    "rename": ["a CREATE Old", "b RENAME Old New", "c LIST \"\" *", "d RENAME nosuch x",
               "e RENAME New New"],
    "subscribe_lsub": ["a CREATE Lists", "b SUBSCRIBE Lists", "c LSUB \"\" *",
                       "d UNSUBSCRIBE Lists", "e LSUB \"\" *", "f SUBSCRIBE nosuch",
                       "g UNSUBSCRIBE nosuch"],
    "status": ["a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)",
               "b STATUS nosuch (MESSAGES)", "c CREATE Empty",
               "d STATUS Empty (UIDNEXT MESSAGES)", "e STATUS INBOX ()",
               "f STATUS INBOX (FOO)"],
    "select_examine": ["a SELECT INBOX", "b EXAMINE INBOX", "c SELECT nosuch",
                       "d FETCH 1 FLAGS"],
    "select_twice_status_selected": ["a SELECT INBOX", "b STATUS INBOX (MESSAGES UNSEEN)",
                                     "c SELECT INBOX"],
    "append_sync_literal": ["a CREATE Drafts", "b APPEND Drafts (\\Draft) {30}", SMALL,
                            "c STATUS Drafts (MESSAGES UIDNEXT)"],
    "append_literal_plus": ["a CREATE Drafts", f"b APPEND Drafts {{30+}}\\r\\n{SMALL}",
                            "c SELECT Drafts", "d FETCH 1 (FLAGS RFC822.SIZE)"],
    "append_trycreate": ["a APPEND nosuch {30}", f"b APPEND nosuch {{30+}}\\r\\n{SMALL}",
                         "c NOOP"],
    "append_date_flags": ["a CREATE Box",
                          "b APPEND Box (\\Seen \\Flagged) \"05-Feb-2024 10:11:12 +0200\" "
                          f"{{30+}}\\r\\n{SMALL}", "c SELECT Box",
                          "d FETCH 1 (FLAGS INTERNALDATE)"],
    "append_to_selected": ["a SELECT INBOX", f"b APPEND INBOX {{30+}}\\r\\n{SMALL}",
                           "c FETCH 5 (UID FLAGS)"],
    # --- selected state ---------------------------------------------------------------
    "fetch_fast_all_full": ["a EXAMINE INBOX", "b FETCH 1:* FAST", "c FETCH 1:2 ALL",
                            "d FETCH 3 FULL"],
    "fetch_structure": ["a EXAMINE INBOX", "b FETCH 1:4 (BODY BODYSTRUCTURE ENVELOPE)"],
    "fetch_sections": ["a EXAMINE INBOX", "b FETCH 2 (BODY.PEEK[1] BODY.PEEK[2.MIME])",
                       "c FETCH 3 BODY.PEEK[HEADER.FIELDS (From To)]",
                       "d FETCH 1 BODY.PEEK[]<10.20>", "e FETCH 4 (BODY.PEEK[2.HEADER])"],
    "fetch_rfc822": ["a EXAMINE INBOX", "b FETCH 1 (RFC822.HEADER RFC822.SIZE)",
                     "c FETCH 1 RFC822.TEXT", "d FETCH 1 RFC822"],
    "fetch_sets_seen": ["a SELECT INBOX", "b FETCH 1 BODY[TEXT]", "c FETCH 1 FLAGS",
                        "d FETCH 2 RFC822.TEXT", "e FETCH 3 (UID BODY[HEADER])",
                        "f FETCH 1:3 FLAGS"],
    "fetch_errors": ["a SELECT INBOX", "b FETCH 9 FLAGS", "c UID FETCH 9 FLAGS",
                     "d FETCH 1 (FOO)", "e FETCH 0 FLAGS", "f FETCH 1 BODY[1.x]"],
    "uid_fetch": ["a SELECT INBOX", "b UID FETCH 1:* (FLAGS)", "c UID FETCH 2,4 RFC822.SIZE",
                  "d UID FETCH 3:* (UID)"],
    "store": ["a SELECT INBOX", "b STORE 1 +FLAGS (\\Flagged)", "c STORE 1:2 FLAGS (\\Seen)",
              "d STORE 2 -FLAGS.SILENT (\\Seen)", "e FETCH 1:2 FLAGS",
              "f STORE 1 +FLAGS (\\Flagged)"],
    "store_keywords": ["a SELECT INBOX", "b STORE 1 +FLAGS ($Label1)",
                       "c STORE 2 +FLAGS ($Label1 Work)", "d FETCH 1:2 FLAGS",
                       "e SEARCH KEYWORD Work"],
    "uid_store": ["a SELECT INBOX", "b UID STORE 2 +FLAGS (\\Answered)",
                  "c UID STORE 2 -FLAGS.SILENT (\\Answered)", "d UID STORE 99 +FLAGS (\\Seen)"],
    "store_readonly": ["a EXAMINE INBOX", "b STORE 1 +FLAGS (\\Deleted)", "c EXPUNGE",
                       "d FETCH 1 FLAGS"],
    "search_keys": ["a SELECT INBOX", "b SEARCH ALL", "c SEARCH UNSEEN", "d SEARCH SEEN",
                    "e SEARCH FROM alice", "f SEARCH SUBJECT lunch", "g SEARCH NOT SEEN",
                    "h SEARCH OR SEEN FLAGGED", "i SEARCH 2:3", "j UID SEARCH UID 2:*",
                    "k SEARCH LARGER 500", "l SEARCH BODY noon", "m SEARCH RECENT",
                    "n SEARCH NEW", "o SEARCH HEADER Message-ID 1234"],
    "search_errors": ["a SELECT INBOX", "b SEARCH FOO", "c SEARCH", "d SEARCH (",
                      "e SEARCH SINCE 1-Foo-2024"],
    "expunge": ["a SELECT INBOX", "b STORE 1,3 +FLAGS.SILENT (\\Deleted)", "c EXPUNGE",
                "d FETCH 1:* (UID FLAGS)"],
    "uid_expunge": ["a SELECT INBOX", "b STORE 1:2 +FLAGS.SILENT (\\Deleted)",
                    "c UID EXPUNGE 2", "d FETCH 1:* UID"],
    "close_expunges": ["a SELECT INBOX", "b STORE 2 +FLAGS (\\Deleted)", "c CLOSE",
                       "d STATUS INBOX (MESSAGES)", "e CLOSE"],
    "unselect_keeps": ["a SELECT INBOX", "b STORE 2 +FLAGS (\\Deleted)", "c UNSELECT",
                       "d STATUS INBOX (MESSAGES)", "e UNSELECT"],
    "copy_uidplus": ["a CREATE Archive", "b SELECT INBOX", "c COPY 1:2 Archive",
                     "d UID COPY 3:4 Archive", "e COPY 1 nosuch",
                     "f STATUS Archive (MESSAGES UIDNEXT)"],
    "move": ["a CREATE Archive", "b SELECT INBOX", "c MOVE 2 Archive",
             "d UID MOVE 3 Archive", "e FETCH 1:* UID", "f MOVE 1 nosuch"],
    "copy_to_selected": ["a SELECT INBOX", "b COPY 1 INBOX", "c NOOP"],
    "idle_done": ["a SELECT INBOX", "b IDLE", "DONE", "c NOOP"],
    "idle_bad_done": ["a SELECT INBOX", "b IDLE", "NOTDONE", "c NOOP"],
    "bad_syntax": ["a SELECT INBOX", "b FOO", "c FETCH", "d STORE 1 FLAGS (\\Bogus)",
                   "e COPY 1", "f SELECT", "g UID FOO 1"],
    "enable_capability": ["a CAPABILITY", "b ENABLE FOO"],
    "check_noop_selected": ["a SELECT INBOX", "b CHECK", "c NOOP"],
    "logout_selected": ["a SELECT INBOX", "b LOGOUT"],
}
