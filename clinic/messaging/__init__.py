"""Texts to clients, as one feature: which texts a visit gets and when (`plan`), their bodies
(`bodies`), sending them at most once (`dispatch`, `senders`), Twilio's delivery callbacks
(`delivery`) and what clients answer (`replies`), with their tables (`models`).

The README's "Texts" section states the rules these modules follow.
"""
