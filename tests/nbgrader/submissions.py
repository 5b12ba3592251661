"""The assignment the workflow test and the grading benchmark submit, and learners' answers.

Answers are keyed by the grade id of the answer cell they replace. The start page's
exercise (rewrite an old configuration in Dovecot 2.3 syntax) has one answer cell,
ANSWER_CELL, and two graded test cells: a visible self-check and a hidden test.
"""

ASSIGNMENT = "00-start-here"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
ANSWER_CELL, SELF_CHECK, HIDDEN = "modern-config", "modern-self-check", "modern-intent"

# Right, and written otherwise than the instructor's solution (order, comments).
CORRECT = '''\
# The old guide's intent, written for Dovecot 2.3.
modern = """\\
auth_mechanisms = plain cram-md5
protocols = imap pop3
# !SSLv2 !SSLv3 left TLS 1.0 and newer
ssl_min_protocol = TLSv1
"""
'''
# The usual slip: the 1.x protocol names for TLS ports left in (Dovecot 2.3 warns, then
# ignores them, so the intent still holds but the config is not yet 2.3 syntax).
MISTAKES = '''\
modern = """\\
protocols = imap imaps pop3 pop3s
ssl_min_protocol = TLSv1
auth_mechanisms = plain cram-md5
"""
'''
SYNTAX_ERROR = 'modern = """\\\nprotocols = imap pop3\n'
ENDLESS_LOOP = "while True:\n    pass\n"
EDITED_TEST = 'print("All checks passed.")\n'
