-- Raw rows number their source lines with this sequence: reset to 1 under an advisory lock
-- before each COPY, so the first data line (after the header) is line 2.
create sequence if not exists raw.source_line_seq as integer cache 100000;
