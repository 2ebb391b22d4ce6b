"""The browser tests' harness: the local stack (stack), Chromium, axe-core and screenshots
(browser), and the pages' conventions with a local server (site)."""
