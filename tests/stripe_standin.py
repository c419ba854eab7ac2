"""localstripe, the local stand-in for Stripe (development and tests), run without its disk store.

localstripe pickles its whole store to /tmp/localstripe.pickle at every write and reads it back at start:
shared by every instance on the machine (two test runs at once corrupt it, and a truncated file stops the
next start) and slower with each object created. Here it keeps everything in memory, so each instance is
its own and starts empty.

    python -m tests.stripe_standin --port 8420
"""
import sys

from localstripe import resources

resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None

if __name__ == "__main__":
    from localstripe.server import start

    sys.exit(start())
