"""The dispatcher: APScheduler jobs that send what is due and close visits nobody closed.

It runs as its own process (`flask --app wsgi scheduler run`); web workers never start one.
The demo server embeds one, once.
"""
