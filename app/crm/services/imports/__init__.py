"""CSV import of contacts, one module per step:

- `files`: the upload stored and checked, read again in the encoding the person picks, previewed,
  discarded (`sniffing` tells what a file is: text or not, encoding, delimiter, header line).
- `mapping`: which column goes into which contact field (remembered per set of headers, or guessed
  from the column names of HubSpot, Salesforce and other exports).
- `rows`: one row checked with the rules of the contact form.
- `batches`: a batch of checked rows written (contacts created or updated, companies and tags found
  or created).
- `job`: the import started, run in batches as a background job (`app.crm.tasks.run_import`),
  resumed after an interruption, and its report of rejected rows.
"""
