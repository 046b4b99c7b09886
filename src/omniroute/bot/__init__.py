"""The answer bot: answers from the knowledge base, hands off to people cleanly.

- :mod:`.policy`: where and when the bot answers (per pool, channel, business hours);
- :mod:`.replies`: what a customer's reply means (yes, no, a person please) and what
  the bot says, in Korean and English;
- :mod:`.triage`: intent and slots for the agent when nothing upstream triaged them;
- :mod:`.machine`: the pure state machine of one conversation with the bot;
- :mod:`.records`: the records of the bot's inbox topic.

The faust shell is :mod:`omniroute.worker.bot`.
"""
