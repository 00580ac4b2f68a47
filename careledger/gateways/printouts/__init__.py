"""The episode's documents to print (issue 22): `record` folds one episode from the log,
`pages` authorizes and logs the disclosure and renders the page."""
