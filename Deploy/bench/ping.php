<?php
// The cheap route for the PHP-FPM comparison.
header('Content-Type: application/json');
echo json_encode(['ok' => true, 'pid' => getmypid()]);
