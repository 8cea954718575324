"""A local server speaking varg v1, v2 and Vrex, to try remote specs for free and to test against."""
