"""What only builds and never draws: Plotly figures, tables shaped for display, labels and colours, and files to
download. Nothing here imports Streamlit (a test checks it); the modules one level up draw with Streamlit."""
