"""The references domain: BibTeX and RIS exports dropped into the inbox, and the DOIs students cite
resolved against OpenAlex and Crossref."""
