-- Certificate renewal: the serial a node had before its last renewal stays valid until the node
-- connects with the new one, so an agent that crashed before storing its new certificate is not
-- locked out. It is then revoked.
ALTER TABLE nodes ADD COLUMN prev_serial text;
