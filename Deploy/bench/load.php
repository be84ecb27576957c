<?php
// The expensive route for the PHP-FPM comparison: bcrypt of a random string, cost from ?cost= (default 12).
header('Content-Type: application/json');
$cost = isset($_GET['cost']) ? (int)$_GET['cost'] : 12;
$started = microtime(true);
$hash = password_hash(bin2hex(random_bytes(16)), PASSWORD_BCRYPT, ['cost' => $cost]);
echo json_encode(['hash' => $hash, 'seconds' => microtime(true) - $started]);
