"""The only Streamlit code in the library: login, the warehouse connection, formatting, pages.

Everything here turns widget and session state into plain objects (`User`, `Scope`, ...) that
the rest of `cxm` takes as arguments.
"""
