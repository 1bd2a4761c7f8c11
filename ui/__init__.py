"""The Streamlit web page: views over rag, ingest and policies."""
