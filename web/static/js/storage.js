// localStorage (the name and user id, kept across visits) and
// sessionStorage (the sign-in token, this tab only), read and written
// without ever throwing.

// localStorage can throw (privacy modes, storage disabled): the page
// still works, it just forgets the name and id on reload.
export function storageGet(key) {
  try {
    return localStorage.getItem(key);
  } catch (_) {
    return null;
  }
}

export function storageSet(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch (_) {
    // Not persisted; see storageGet.
  }
}

export function sessionGet(key) {
  try {
    return sessionStorage.getItem(key);
  } catch (_) {
    return null;
  }
}

export function sessionSet(key, value) {
  try {
    if (value) sessionStorage.setItem(key, value);
    else sessionStorage.removeItem(key);
  } catch (_) {
    // Kept in memory only: a reload forgets it.
  }
}
