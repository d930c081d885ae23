"""The hooks other parts of the project listen to."""

from django.dispatch import Signal

# Sent once an issue is published and the transaction has committed; receivers get ``issue_id``.
# Subscriber notification hangs on this.
issue_published = Signal()
