-- Image bytes may live in PostgreSQL (content, as before) or in a directory of files named by their
-- SHA-256 (Ota:Artifacts:Store = directory). The row stays either way: releases keep referencing
-- firmware_binaries, and `store` says where the bytes are, so a replica reads each image from the
-- right place while `artifacts-move` moves images one committed row at a time.
alter table firmware_binaries
    add column store text not null default 'postgresql' check (store in ('postgresql', 'directory'));
alter table firmware_binaries alter column content drop not null;
alter table firmware_binaries
    add constraint firmware_binaries_content_where_stored check ((store = 'postgresql') = (content is not null));
