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
  };

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

  async function whoAmI() {
    const el = byId('nickname');
    try {
      const res = await fetch('/auth/me', { credentials: 'include', cache: 'no-store' });
      if (res.ok) {
        const me = await res.json();
        el.textContent = me.nickname || '(닉네임 없음 · no nickname)';
      } else {
        el.textContent = '로그인되지 않음';
      }
    } catch (_) {
      el.textContent = '서버에 연결할 수 없음 (server unreachable)';
    }
  }

  async function post(path) {
    try {
      const res = await fetch(path, { method: 'POST', credentials: 'include' });
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
