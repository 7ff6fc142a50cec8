-- The sample CRM that `usersync init` builds into ./sample/crm.db: a members table as a
-- business keeps it, with a few rows that show how usersync reports problems.
CREATE TABLE members (
  id          INTEGER PRIMARY KEY,
  email       TEXT,
  full_name   TEXT,
  photo_url   TEXT,
  signup_date TEXT,
  last_login  TEXT,
  app_user_id TEXT,
  plan        TEXT NOT NULL DEFAULT 'free',
  company     TEXT,
  status      TEXT NOT NULL DEFAULT 'approved'
);

INSERT INTO members (email, full_name, photo_url, signup_date, plan, company, status) VALUES
  ('ada@example.com', 'Ada Lovelace', 'https://example.com/avatars/ada.png', '2023-01-15', 'pro', 'Analytical Engines', 'approved'),
  ('grace@example.com', 'Grace Hopper', NULL, '2023-02-01', 'pro', 'US Navy', 'approved'),
  ('alan@example.com', 'Alan Turing', NULL, '2023-03-12', 'free', 'Bletchley Park', 'approved'),
  ('katherine@example.com', 'Katherine Johnson', NULL, '2023-04-20 09:30:00', 'team', 'NASA', 'approved'),
  -- not an http(s) URL: an invalid_value issue for the avatar; the rest of the row syncs
  ('linus@example.com', 'Linus Torvalds', 'linus.png', '1991-08-25', 'free', NULL, 'approved'),
  -- two rows with one email (after trimming and lower-casing): a duplicate_email issue
  ('margaret@example.com', 'Margaret Hamilton', NULL, '2023-06-30', 'team', 'MIT', 'approved'),
  ('  Margaret@Example.com', 'M. Hamilton (old account)', NULL, '2021-01-01', 'free', 'MIT', 'approved'),
  -- no @: an invalid_email issue
  ('barbara.example.com', 'Barbara Liskov', NULL, '2023-07-07', 'pro', 'MIT', 'approved'),
  -- does not match the connection's filter (status eq "approved"): not a user
  ('dennis@example.com', 'Dennis Ritchie', NULL, '2023-08-08', 'free', 'Bell Labs', 'pending');
