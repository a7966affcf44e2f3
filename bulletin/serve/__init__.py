"""`bulletin serve`: a live preview while editing.

watcher.py   watchdog, ignore rules, one rebuild per burst of saves
rebuild.py   runs the builder one build at a time; the state pages must show
channel.py   server-sent events to the open pages
overlay.py   the live script added to HTML responses (reload, error overlay)
pdfs.py      issue PDFs made in a child process, fresh after every edit
safety.py    paths that stay inside the preview folder; Host header checks
app.py       the Starlette app, assembled around a builder callable
server.py    uvicorn, the preview folder, signals: what the command runs
"""
