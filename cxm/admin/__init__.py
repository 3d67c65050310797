"""What admins do to the server: manage users (`users`) and load a company's files (`uploads`).

Every operation takes the acting user and checks their role here, in the library, validates
everything before it changes anything, and writes an entry to the audit trail.
"""
