"""What core.jobs runs for core itself: the app's e-mail (queued by `core.mail`, sent here) and its upkeep."""
from app.core import mail
from app.core.schedule import scheduled


def send_mail(mail_id: str) -> None:
    """Job: send one queued e-mail through its workspace's channel (`core.mail.deliver_now`). Safe to run
    twice: a message already sent, failed or being sent by another run is left alone. A failed attempt
    raises, so RQ retries it (60, 120, 240 s); the last one marks it failed with the reason."""
    mail.deliver_now(mail_id)


@scheduled("mail-requeue", "*/10 * * * *")
def requeue_stalled_mail() -> dict:
    """Queue again the e-mails whose job was lost (the queue was down when they were written)."""
    return {"message": f"{mail.requeue_stalled():,} e-mails queued again."}
