"""`python -m billing.standin`: run the stand-in."""

from billing.standin.server import main

main()
