// Demo page logic. Served as a file so the page's Content-Security-Policy can
// forbid inline script. Text from the server or the URL is only ever written
// with textContent, never innerHTML.
'use strict';

(function () {
  const MESSAGES = {
    access_denied: '로그인을 취소했습니다. (You cancelled the login.)',
    kakao_error: '카카오에서 오류가 발생했습니다. (Kakao reported an error.)',
    invalid_request: '잘못된 요청입니다. (The login callback was incomplete.)',
    invalid_return_to: '허용되지 않은 이동 주소입니다. (That return address is not allowed.)',
    invalid_state: '로그인 요청이 유효하지 않습니다. 다시 시도하세요. (The login attempt is not valid; try again.)',
    login_expired: '로그인 시간이 만료되었습니다. 다시 시도하세요. (The login attempt expired; try again.)',
    unavailable: '서비스에 잠시 연결할 수 없습니다. (The service is unavailable; try again later.)',
    server_error: '서버 오류가 발생했습니다. (Something went wrong on our side.)',
    rate_limited: '요청이 너무 많습니다. 잠시 후 다시 시도하세요. (Too many attempts; try again shortly.)',
    provider_error: '로그인 제공자에서 오류가 발생했습니다. (The login provider reported an error.)',
    identity_in_use: '이 계정은 이미 다른 사용자에게 연결되어 있습니다. (That account already belongs to another user.)',
    login_required: '먼저 로그인하세요. (Log in first, then link.)',
  };

  // The providers, in the order the page lists them; `slug` is the path
  // segment of /auth/{slug}/login, /link and /auth/identities/{slug}/unlink.
  const PROVIDERS = [
    { slug: 'kakao', name: '카카오 · Kakao' },
    { slug: 'naver', name: '네이버 · Naver' },
    { slug: 'google', name: 'Google' },
  ];

  const byId = (id) => document.getElementById(id);

  function showError(code) {
    const el = byId('error');
    const known = Object.prototype.hasOwnProperty.call(MESSAGES, code);
    const shown = known ? code : String(code).slice(0, 40);
    el.textContent = '오류 (error): ' + shown + ' — ' + (known ? MESSAGES[code] : '알 수 없는 오류 (unknown error)');
    el.hidden = false;
  }

  function showStatus(text) {
    byId('status').textContent = text;
  }

  function formatTime(seconds) {
    return seconds ? new Date(seconds * 1000).toLocaleString() : '-';
  }

  // One line per provider: linked ones with their e-mail, times and an
  // unlink button (only while another identity remains), the others with
  // a link to connect them.
  function showIdentities(identities) {
    const list = byId('identities');
    list.replaceChildren();
    const linked = new Map(identities.map((i) => [i.provider, i]));
    for (const provider of PROVIDERS) {
      const item = document.createElement('li');
      const name = document.createElement('strong');
      name.textContent = provider.name;
      item.append(name, ' ');
      const identity = linked.get(provider.slug);
      if (identity) {
        const details = document.createElement('span');
        details.textContent = (identity.email ? identity.email + ' · ' : '')
          + '연결 (linked) ' + formatTime(identity.linked_at)
          + ' · 최근 로그인 (last login) ' + formatTime(identity.last_login_at);
        item.append(details);
        if (identities.length > 1) {
          const unlink = document.createElement('button');
          unlink.type = 'button';
          unlink.className = 'unlink';
          unlink.dataset.provider = provider.slug;
          unlink.textContent = '연결 해제 · Unlink';
          unlink.addEventListener('click', () => unlinkIdentity(provider.slug));
          item.append(' ', unlink);
        }
      } else {
        const link = document.createElement('a');
        link.className = 'link ' + provider.slug;
        link.href = '/auth/' + provider.slug + '/link?return_to=/';
        link.textContent = '연결 · Link';
        item.append(link);
      }
      list.append(item);
    }
    byId('accounts').hidden = false;
  }

  async function whoAmI() {
    const el = byId('nickname');
    byId('accounts').hidden = true;
    try {
      const res = await fetch('/auth/me', { credentials: 'include', cache: 'no-store' });
      if (res.ok) {
        const me = await res.json();
        el.textContent = me.nickname || '(닉네임 없음 · no nickname)';
        showIdentities(Array.isArray(me.identities) ? me.identities : []);
        byId('logins').hidden = true;
      } else {
        el.textContent = '로그인되지 않음';
        byId('logins').hidden = false;
      }
    } catch (_) {
      el.textContent = '서버에 연결할 수 없음 (server unreachable)';
    }
  }

  async function unlinkIdentity(slug) {
    const status = await post('/auth/identities/' + slug + '/unlink');
    const text = {
      200: '연결을 해제했습니다. (Unlinked.)',
      401: '먼저 로그인하세요. (Log in first.)',
      404: '연결되지 않은 계정입니다. (Not linked.)',
      409: '마지막 계정은 해제할 수 없습니다. (The last account cannot be unlinked.)',
    }[status];
    showStatus(text || '연결 해제 실패 (unlink failed): HTTP ' + status);
    await whoAmI();
  }

  async function post(path) {
    try {
      const res = await fetch(path, { method: 'POST', credentials: 'same-origin' });
      return res.status;
    } catch (_) {
      return 0;
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    const code = new URLSearchParams(window.location.search).get('error');
    if (code) {
      showError(code);
    }

    byId('refresh').addEventListener('click', async () => {
      const status = await post('/auth/refresh');
      showStatus(status === 204 ? '토큰을 갱신했습니다. (Tokens refreshed.)'
        : '갱신 실패 (refresh failed): HTTP ' + status);
      await whoAmI();
    });

    byId('logout').addEventListener('click', async () => {
      const status = await post('/auth/logout');
      showStatus(status === 204 ? '로그아웃했습니다. (Logged out.)'
        : '로그아웃 실패 (logout failed): HTTP ' + status);
      await whoAmI();
    });

    whoAmI();
  });
})();
