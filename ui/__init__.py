"""Streamlit code the chapters share: the story's order, charts, image choice, the shipped model,
background jobs. Only app.py's navigation makes pages, from the files in chapters/."""
