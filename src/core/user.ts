/** A scalar stored in a user's custom fields. */
export type CustomValue = string | number | boolean;

export type UserStatus = 'active' | 'suspended';

/** A user of the directory (SPEC §1). Dates are ISO-8601 UTC strings. */
export interface DirectoryUser {
  readonly id: string;
  readonly email: string;
  readonly name: string | null;
  readonly avatar: string | null;
  readonly createdAt: string;
  readonly lastSeenAt: string | null;
  readonly magicLink: string | null;
  readonly externalId: string | null;
  readonly status: UserStatus;
  readonly custom: Readonly<Record<string, CustomValue>>;
  /** Set when the user was deleted in the app; the row stays as a tombstone until its source rows are gone. */
  readonly deletedAt: string | null;
  /** Bumped on every write; updates are conditional on it so a sync never overwrites a newer app change. */
  readonly version: number;
}

/** The fields a sync may change on a user. `custom` is merged key by key; null removes a key. */
export interface UserPatch {
  email?: string;
  name?: string | null;
  avatar?: string | null;
  createdAt?: string;
  status?: UserStatus;
  custom?: Record<string, CustomValue | null>;
}

/** What a sync needs to create a user (id and dates are chosen by the caller). */
export interface NewUser {
  readonly id: string;
  readonly email: string;
  readonly name: string | null;
  readonly avatar: string | null;
  readonly createdAt: string;
  readonly lastSeenAt: string | null;
  readonly status: UserStatus;
  readonly custom: Readonly<Record<string, CustomValue>>;
}
