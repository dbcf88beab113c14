-- What a file is: its application id and how many tables it holds that are not SQLite's own.
-- One statement, so both come from one snapshot: another process creating the store between
-- two reads would otherwise show its tables without its application id.
SELECT
    (SELECT application_id FROM pragma_application_id()),
    (SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%')
