"""cxm: sign in, then the pages the user's role may open."""

import streamlit as st

from cxm.access import cookie_key
from cxm.logs import start
from cxm.ui import access, shell

# An emoji icon: a ":material/...:" one makes every browser fetch it from fonts.gstatic.com.
st.set_page_config(page_title="cxm", page_icon="📊", layout="wide")

with shell.errors_shown():
    start()  # every CXM_ setting checked and the cxm log set up, before anything else runs
    cookie_key()  # refuse to start, before any login or page, without a strong key
    shell.warm()  # the chart library, in the background, while the sign-in form waits
    user = access.login()
navigation = st.navigation(
    shell.pages_for(user.role if user else None), position="sidebar" if user else "hidden"
)
if user is None:
    shell.prefetch()
    st.stop()
shell.sidebar(user)
shell.warm().join()  # done long since, but for a signed-in first run of a fresh process
with shell.errors_shown():
    navigation.run()
