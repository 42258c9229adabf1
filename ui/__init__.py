"""Streamlit code the pages share (image choice, the shipped model, background jobs). It lives
outside pages/ because Streamlit serves every module in pages/ as a page of its own."""
